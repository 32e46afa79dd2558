package business_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// A country that no code mentions, added to the catalogue, gets its partition
// and constraints on start and takes bookings, with its own cut-off.
func TestNewCountry(t *testing.T) {
	t.Parallel()
	cat, err := countries.Parse([]byte(`countries:
  - code: qq
    name: Quuxland
    timeZone: Europe/Paris
    locale: fr-FR
    currency: EUR
    phoneRegion: FR
    cancellationCutoffMinutes: 1440
`))
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.NewDatabase(t, "booking")
	st := store.New(pool)
	if err := st.EnsurePartitions(context.Background(), cat.Codes()); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	e := &env{t: t, pool: pool, clock: c, svc: business.New(st, cat, business.Options{Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}
	p := practice(uuid.NewString(), 1)
	p.Country = "qq"
	e.applyPractitioner(p)
	pat := e.addPatient("Quinn")
	a := e.mustBook(pat, p.ID, typeA, tuesday(10, 0))
	if n := e.count(`SELECT count(*) FROM appointments_qq WHERE id = $1`, a.ID); n != 1 {
		t.Fatal("not in the qq partition")
	}
	_, err = e.book(e.addPatient("Other"), p.ID, typeB, tuesday(10, 15))
	wantCode(t, err, apperr.SlotUnavailable)
	// qq's cut-off is a day: on Monday 07:00, Tuesday 10:00 is 27 h away…
	if _, err := e.svc.Cancel(asPatient(pat), business.CancelInput{AppointmentID: a.ID, Reason: "x"}); err != nil {
		t.Fatalf("cancel 27 h ahead: %v", err)
	}
	// … and on Monday 11:00, 23 h.
	b := e.mustBook(pat, p.ID, typeA, tuesday(10, 0))
	e.clock.Advance(4 * time.Hour)
	_, err = e.svc.Cancel(asPatient(pat), business.CancelInput{AppointmentID: b.ID, Reason: "x"})
	wantCode(t, err, apperr.CancellationClosed)
}
