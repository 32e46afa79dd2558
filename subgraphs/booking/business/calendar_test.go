package business_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/ical"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

// feedToken is the token in a feed's path.
func feedToken(t *testing.T, path string) string {
	t.Helper()
	token, ok := strings.CutSuffix(strings.TrimPrefix(path, business.CalendarPath), ".ics")
	if !ok || !strings.HasPrefix(path, business.CalendarPath) {
		t.Fatalf("path %q is not %s<token>.ics", path, business.CalendarPath)
	}
	return token
}

// TestCalendarFeedLifecycle: the practitioner or their secretary creates,
// replaces and revokes a feed (nobody else may); the store holds only the
// token's SHA-256; the feed lists the appointments, cancelled ones as
// such, within its window; a replaced or revoked token finds nothing.
func TestCalendarFeedLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	ctx := context.Background()
	pr, other := e.addPractitioner(), e.addPractitioner()
	camille := e.addPatient("Camille")

	admin := auth.WithPrincipal(ctx, auth.Principal{Subject: "root", Account: uuid.NewString(), Role: auth.RoleAdmin})
	for name, c := range map[string]struct {
		ctx  context.Context
		pid  string
		code apperr.Code
	}{
		"anonymous":             {ctx, pr, apperr.Unauthenticated},
		"a patient":             {asPatient(camille), pr, apperr.Forbidden},
		"another practitioner":  {asPractitioner(other), pr, apperr.Forbidden},
		"another's secretary":   {asSecretary(other), pr, apperr.Forbidden},
		"an admin":              {admin, pr, apperr.Forbidden},
		"a secretary, no id":    {asSecretary("not-an-id"), "not-an-id", apperr.NotFound},
		"a practitioner, no id": {asPractitioner("not-an-id"), "not-an-id", apperr.NotFound},
	} {
		pid := c.pid
		if _, err := e.svc.CreateCalendarFeed(c.ctx, pid); apperr.CodeOf(err) != c.code {
			t.Errorf("%s creates: %v, want %s", name, err, c.code)
		}
		if _, err := e.svc.RevokeCalendarFeed(c.ctx, pid); apperr.CodeOf(err) != c.code {
			t.Errorf("%s revokes: %v, want %s", name, err, c.code)
		}
		if _, err := e.svc.CalendarFeedOf(c.ctx, pid); apperr.CodeOf(err) != c.code {
			t.Errorf("%s reads: %v, want %s", name, err, c.code)
		}
	}
	if f, err := e.svc.CalendarFeedOf(asPractitioner(pr), pr); err != nil || f != nil {
		t.Fatalf("no feed yet: %+v, %v", f, err)
	}

	first, err := e.svc.CreateCalendarFeed(asPractitioner(pr), pr)
	if err != nil {
		t.Fatal(err)
	}
	token := feedToken(t, first.Path)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v", token, len(raw), err)
	}
	// The store has the hash, and nothing that shows the token.
	sum := sha256.Sum256(raw)
	if n := e.count(`SELECT count(*) FROM calendar_feeds WHERE practitioner_id = $1 AND token_sha256 = $2`, pr, sum[:]); n != 1 {
		t.Fatalf("%d rows with the token's hash", n)
	}
	if n := e.count(`SELECT count(*) FROM calendar_feeds f WHERE position($1 in row_to_json(f)::text) > 0
		OR position($2::bytea in f.token_sha256) > 0`, token, raw); n != 0 {
		t.Fatal("the store holds the token")
	}
	if f, err := e.svc.CalendarFeedOf(asSecretary(pr), pr); err != nil || f == nil || !f.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("the secretary sees %+v, %v; want created at %s", f, err, first.CreatedAt)
	}

	// Two appointments; one is cancelled by the patient.
	kept := e.mustBook(camille, pr, typeA, tuesday(9, 0))
	gone := e.mustBook(camille, pr, typeB, tuesday(10, 0))
	gone, err = e.svc.Cancel(asPatient(camille), business.CancelInput{AppointmentID: gone.ID, Reason: "better"})
	if err != nil {
		t.Fatal(err)
	}
	e.mustBook(e.addPatient("Other"), other, typeA, tuesday(9, 0)) // another practice's: not in this feed

	cal, err := e.svc.CalendarFeedByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Name != "Careslot: Dr Claire Dubois" || cal.RefreshInterval != business.CalendarRefresh || cal.Method != "" {
		t.Errorf("calendar %q, refresh %s, method %q", cal.Name, cal.RefreshInterval, cal.Method)
	}
	want := []ical.Event{
		{UID: kept.ID + "@careslot", Sequence: kept.Version, Start: tuesday(9, 0), End: tuesday(9, 30),
			Summary: "Camille Martin (type)", Location: "Cabinet, Paris"},
		{UID: gone.ID + "@careslot", Sequence: gone.Version, Start: tuesday(10, 0), End: tuesday(10, 30),
			Summary: "Camille Martin (type)", Location: "Cabinet, Paris", Cancelled: true, Description: "Cancelled by the patient"},
	}
	if len(cal.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(cal.Events), len(want), cal.Events)
	}
	for i, w := range want {
		g := cal.Events[i]
		if g.Stamp.IsZero() || !g.Stamp.Equal(g.LastModified) {
			t.Errorf("event %d stamped %s, last modified %s", i, g.Stamp, g.LastModified)
		}
		g.Stamp, g.LastModified = time.Time{}, time.Time{}
		if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) {
			t.Errorf("event %d at %s–%s, want %s–%s", i, g.Start, g.End, w.Start, w.End)
		}
		g.Start, g.End, w.Start, w.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if gone.Version <= 1 {
		t.Errorf("a cancelled appointment's version %d: its SEQUENCE must move on", gone.Version)
	}

	// Thirty-two days later both started more than 30 days ago: out of the feed.
	e.clock.Advance(32 * 24 * time.Hour)
	if cal, err := e.svc.CalendarFeedByToken(ctx, token); err != nil || len(cal.Events) != 0 {
		t.Errorf("a month on: %d events, %v", len(cal.Events), err)
	}

	// Creating again (the secretary) replaces the address.
	second, err := e.svc.CreateCalendarFeed(asSecretary(pr), pr)
	if err != nil {
		t.Fatal(err)
	}
	if second.Path == first.Path || e.count(`SELECT count(*) FROM calendar_feeds WHERE practitioner_id = $1`, pr) != 1 {
		t.Fatal("a second feed did not replace the first")
	}
	if _, err := e.svc.CalendarFeedByToken(ctx, token); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("the replaced token: %v", err)
	}
	if _, err := e.svc.CalendarFeedByToken(ctx, feedToken(t, second.Path)); err != nil {
		t.Errorf("the new token: %v", err)
	}

	// Revoking ends it; revoking again finds nothing to end.
	if revoked, err := e.svc.RevokeCalendarFeed(asPractitioner(pr), pr); err != nil || !revoked {
		t.Fatalf("revoke: %v, %v", revoked, err)
	}
	if _, err := e.svc.CalendarFeedByToken(ctx, feedToken(t, second.Path)); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("the revoked token: %v", err)
	}
	if revoked, err := e.svc.RevokeCalendarFeed(asPractitioner(pr), pr); err != nil || revoked {
		t.Errorf("revoke again: %v, %v", revoked, err)
	}
	if f, err := e.svc.CalendarFeedOf(asPractitioner(pr), pr); err != nil || f != nil {
		t.Errorf("after revoke: %+v, %v", f, err)
	}

	// Tokens that are not even tokens find nothing either.
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 44), token + "A", "../../etc"} {
		if _, err := e.svc.CalendarFeedByToken(ctx, bad); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}
