package booking_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	goical "github.com/arran4/golang-ical"

	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/subgraphs/booking"
)

const createFeedOp = `mutation CreateCalendarFeed($practitionerId: ID!) {
  createCalendarFeed(practitionerId: $practitionerId) { path feed { createdAt } }
}`

const revokeFeedOp = `mutation RevokeCalendarFeed($practitionerId: ID!) {
  revokeCalendarFeed(practitionerId: $practitionerId) { revoked }
}`

const feedStatusOp = `query ($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Practitioner { id calendarFeed { createdAt } } }
}`

type feedAnswer struct {
	status int
	header http.Header
	body   string
}

func getFeed(t *testing.T, srv *httptest.Server, method, path string, headers ...string) feedAnswer {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return feedAnswer{res.StatusCode, res.Header, string(raw)}
}

// TestCalendarFeedHTTP: the feed a practitioner creates through GraphQL is an
// iCalendar object with their appointments (a cancelled one as CANCELLED);
// it answers 304 to its own ETag until something changes; the practitioner
// sees that a feed exists, never its address; a revoked or made-up address is
// a bare 404, and only GET and HEAD are served.
func TestCalendarFeedHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	camille := f.patient(t, "Camille")
	mux := http.NewServeMux()
	mux.Handle(booking.CalendarRoute, f.sg.CalendarHandler()) // as the service mounts it
	feeds := httptest.NewServer(mux)
	defer feeds.Close()
	doctor := "practitioner:" + f.prSub

	if r := gqltest.Do(t, f.srv.URL, "patient:"+camille, createFeedOp, map[string]any{"practitionerId": f.practitioner}); strings.Join(r.Codes(), ",") != "FORBIDDEN" {
		t.Fatalf("a patient creates a feed: %s", r.Data)
	}
	r := gqltest.Do(t, f.srv.URL, doctor, createFeedOp, map[string]any{"practitionerId": f.practitioner})
	var created struct {
		CreateCalendarFeed struct {
			Path string
			Feed struct{ CreatedAt string }
		}
	}
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &created) != nil || created.CreateCalendarFeed.Feed.CreatedAt == "" {
		t.Fatalf("create: %s %+v", r.Data, r.Errors)
	}
	path := created.CreateCalendarFeed.Path
	reps := map[string]any{"representations": []any{map[string]any{"__typename": "Practitioner", "id": f.practitioner}}}
	if r := gqltest.Do(t, f.srv.URL, doctor, feedStatusOp, reps); len(r.Errors) > 0 ||
		!strings.Contains(string(r.Data), created.CreateCalendarFeed.Feed.CreatedAt) || strings.Contains(string(r.Data), "calendar/") {
		t.Fatalf("feed status: %s %+v", r.Data, r.Errors)
	}

	empty := getFeed(t, feeds, http.MethodGet, path)
	if empty.status != http.StatusOK || strings.Contains(empty.body, "BEGIN:VEVENT") {
		t.Fatalf("an empty agenda: %d\n%s", empty.status, empty.body)
	}

	var ids []string
	for i, hour := range []int{9, 10} {
		r := gqltest.Do(t, f.srv.URL, "patient:"+camille, bookOp, bookVars(f, slotAt(hour, 0), "feed"+string(rune('a'+i))))
		var out struct {
			BookAppointment struct{ Appointment struct{ ID string } }
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
			t.Fatalf("book: %+v", r.Errors)
		}
		ids = append(ids, out.BookAppointment.Appointment.ID)
	}
	if r := gqltest.Do(t, f.srv.URL, "patient:"+camille, cancelOp, map[string]any{"input": map[string]any{"appointmentId": ids[1], "reason": "better"}}); len(r.Errors) > 0 {
		t.Fatalf("cancel: %+v", r.Errors)
	}

	a := getFeed(t, feeds, http.MethodGet, path)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		!strings.HasPrefix(a.header.Get("Cache-Control"), "private, max-age=") || a.header.Get("ETag") == "" {
		t.Fatalf("feed: %d %v", a.status, a.header)
	}
	if a.header.Get("ETag") == empty.header.Get("ETag") {
		t.Error("the ETag did not change with the content")
	}
	cal, err := goical.ParseCalendar(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("not iCalendar: %v\n%s", err, a.body)
	}
	status := map[string]string{}
	for _, ev := range cal.Events() {
		uid := ev.Id()
		status[uid] = ev.GetProperty(goical.ComponentPropertyStatus).Value
		if s := ev.GetProperty(goical.ComponentPropertySummary).Value; s != "Camille Martin (Consultation)" {
			t.Errorf("%s: summary %q", uid, s)
		}
		if l := ev.GetProperty(goical.ComponentPropertyLocation); l == nil || l.Value != "Cabinet" {
			t.Errorf("%s: location %+v", uid, l)
		}
	}
	if len(status) != 2 || status[ids[0]+"@careslot"] != "CONFIRMED" || status[ids[1]+"@careslot"] != "CANCELLED" {
		t.Errorf("events %v, want %s confirmed and %s cancelled", status, ids[0], ids[1])
	}

	// Polling with the ETag: 304 and no body while nothing changed; HEAD has the headers.
	if b := getFeed(t, feeds, http.MethodGet, path, "If-None-Match", a.header.Get("ETag")); b.status != http.StatusNotModified || b.body != "" {
		t.Errorf("If-None-Match: %d %q", b.status, b.body)
	}
	if h := getFeed(t, feeds, http.MethodHead, path); h.status != http.StatusOK || h.header.Get("ETag") != a.header.Get("ETag") || h.body != "" {
		t.Errorf("HEAD: %d %v", h.status, h.header)
	}
	if p := getFeed(t, feeds, http.MethodPost, path); p.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", p.status)
	}

	// Revoked, the address is a 404 like any made-up one: same answer, no hint.
	if r := gqltest.Do(t, f.srv.URL, doctor, revokeFeedOp, map[string]any{"practitionerId": f.practitioner}); len(r.Errors) > 0 ||
		!bytes.Contains(r.Data, []byte(`"revoked":true`)) {
		t.Fatalf("revoke: %s %+v", r.Data, r.Errors)
	}
	revoked := getFeed(t, feeds, http.MethodGet, path)
	for _, other := range []string{path, booking.CalendarRoute + "nope.ics", booking.CalendarRoute + strings.Repeat("A", 43) + ".ics",
		strings.TrimSuffix(path, ".ics"), booking.CalendarRoute + "a/b.ics"} {
		g := getFeed(t, feeds, http.MethodGet, other)
		if g.status != http.StatusNotFound || g.body != revoked.body || g.header.Get("ETag") != "" {
			t.Errorf("%s: %d %q, want the same bare 404", other, g.status, g.body)
		}
	}
	if r := gqltest.Do(t, f.srv.URL, doctor, feedStatusOp, reps); !strings.Contains(string(r.Data), `"calendarFeed":null`) {
		t.Errorf("feed status after revoke: %s", r.Data)
	}
}
