package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goical "github.com/arran4/golang-ical"

	"github.com/careslot/careslot/internal/uid"
)

// feedGet fetches a calendar feed address through the router's own listener.
func feedGet(t testing.TB, s *stack, path string, headers ...string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.cfg.RouterAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(raw)
}

// feedEvent is an event of a parsed feed.
type feedEvent struct {
	status, summary, location, start string
	sequence                         int
}

// parseFeed reads a feed with an independent iCalendar parser: its events by UID.
func parseFeed(body string) (map[string]feedEvent, error) {
	cal, err := goical.ParseCalendar(strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	prop := func(ev *goical.VEvent, p goical.ComponentProperty) string {
		if v := ev.GetProperty(p); v != nil {
			return v.Value
		}
		return ""
	}
	out := map[string]feedEvent{}
	for _, ev := range cal.Events() {
		seq, err := strconv.Atoi(prop(ev, goical.ComponentPropertySequence))
		if err != nil {
			return nil, fmt.Errorf("SEQUENCE: %w", err)
		}
		out[ev.Id()] = feedEvent{status: prop(ev, goical.ComponentPropertyStatus), sequence: seq,
			summary: prop(ev, goical.ComponentPropertySummary), location: prop(ev, goical.ComponentPropertyLocation),
			start: prop(ev, goical.ComponentPropertyDtStart)}
	}
	return out, nil
}

// TestCalendarFeedThroughTheRouter: a practitioner creates a calendar feed through the router;
// the address, fetched from the router's own listener, lists a patient's booking and then its
// cancellation (STATUS:CANCELLED, a higher SEQUENCE), answers 304 to its ETag while nothing
// changes, and 404 once revoked.
func TestCalendarFeedThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Agenda", "Feed-"+uid.New()[:8])
	openEveryDay(t, s, prTok, locID, typeID)

	var created struct {
		CreateCalendarFeed struct {
			Path string
			Feed struct{ CreatedAt time.Time }
		}
	}
	s.run(t, prTok, s.op(t, "CreateCalendarFeed"), map[string]any{"practitionerId": prID}, &created)
	path := created.CreateCalendarFeed.Path
	if !strings.HasPrefix(path, "/calendar/") || !strings.HasSuffix(path, ".ics") {
		t.Fatalf("feed path %q", path)
	}
	var mine struct {
		MyPractice struct {
			CalendarFeed *struct{ CreatedAt time.Time }
		}
	}
	s.run(t, prTok, s.op(t, "MyCalendarFeed"), nil, &mine)
	if mine.MyPractice.CalendarFeed == nil || !mine.MyPractice.CalendarFeed.CreatedAt.Equal(created.CreateCalendarFeed.Feed.CreatedAt) {
		t.Fatalf("MyCalendarFeed: %+v, want created at %s", mine.MyPractice.CalendarFeed, created.CreateCalendarFeed.Feed.CreatedAt)
	}
	_, patTok := registerPatient(t, s, "Calendar")
	if codes := s.errorCodes(t, patTok, s.op(t, "CreateCalendarFeed"), map[string]any{"practitionerId": prID}); fmt.Sprint(codes) != "[FORBIDDEN]" {
		t.Fatalf("a patient creates the practice's feed: %v", codes)
	}

	at := tomorrowAt(10, 0)
	id := bookThrough(t, s, patTok, prID, typeID, at, "feed-"+uid.New())
	uidOf := id + "@careslot"
	wantStart := at.UTC().Format("20060102T150405Z")
	var booked feedEvent
	var etag string
	eventually(t, "the booking in the feed", func() string {
		status, h, body := feedGet(t, s, path)
		if status != http.StatusOK || h.Get("Content-Type") != "text/calendar; charset=utf-8" {
			return fmt.Sprintf("%d %s", status, h.Get("Content-Type"))
		}
		events, err := parseFeed(body)
		if err != nil {
			t.Fatalf("not iCalendar: %v\n%s", err, body)
		}
		booked = events[uidOf]
		etag = h.Get("ETag")
		// The patient replica and the practice snapshot may reach booking a little after the booking.
		if len(events) != 1 || booked.status != "CONFIRMED" || booked.start != wantStart ||
			booked.summary != "Calendar Martin (Consultation)" || booked.location != "Cabinet Oberkampf, 12 rue Oberkampf, 75011 Paris" {
			return fmt.Sprintf("events %+v", events)
		}
		return ""
	})
	if status, _, body := feedGet(t, s, path, "If-None-Match", etag); status != http.StatusNotModified || body != "" {
		t.Errorf("polling with the ETag: %d %q", status, body)
	}

	cancelThrough(t, s, patTok, id)
	eventually(t, "the cancellation in the feed", func() string {
		status, h, body := feedGet(t, s, path, "If-None-Match", etag)
		if status != http.StatusOK {
			return fmt.Sprintf("status %d", status)
		}
		events, err := parseFeed(body)
		if err != nil {
			t.Fatalf("not iCalendar: %v\n%s", err, body)
		}
		if got := events[uidOf]; got.status != "CANCELLED" || got.sequence <= booked.sequence || h.Get("ETag") == etag {
			return fmt.Sprintf("event %+v (was %+v), ETag %s", got, booked, h.Get("ETag"))
		}
		return ""
	})

	var revoked struct{ RevokeCalendarFeed struct{ Revoked bool } }
	s.run(t, prTok, s.op(t, "RevokeCalendarFeed"), map[string]any{"practitionerId": prID}, &revoked)
	if !revoked.RevokeCalendarFeed.Revoked {
		t.Fatal("nothing revoked")
	}
	if status, _, body := feedGet(t, s, path); status != http.StatusNotFound || strings.Contains(body, "VCALENDAR") {
		t.Errorf("a revoked feed: %d %q", status, body)
	}
	s.run(t, prTok, s.op(t, "MyCalendarFeed"), nil, &mine)
	if mine.MyPractice.CalendarFeed != nil {
		t.Errorf("MyCalendarFeed after revoking: %+v", mine.MyPractice.CalendarFeed)
	}
}
