package booking_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// owner serves practices the way the practitioner service's internal
// endpoint does (GET /internal/practices/{id}: the snapshot its events
// carry, 404 when unknown), so booking's read-through is tested through its
// real HTTP client; practitioner's own tests check the endpoint.
type owner struct {
	mu        sync.Mutex
	practices map[string]eventdata.Practitioner
	reads     atomic.Int64
	// answer, when set, replaces the practice's answer (failures, delays).
	answer func(w http.ResponseWriter, r *http.Request) bool
	srv    *httptest.Server
}

func newOwner(t *testing.T) *owner {
	o := &owner{practices: map[string]eventdata.Practitioner{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/practices/{id}", func(w http.ResponseWriter, r *http.Request) {
		o.reads.Add(1)
		o.mu.Lock()
		p, ok := o.practices[r.PathValue("id")]
		answer := o.answer
		o.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		if !ok {
			http.Error(w, `{"error":{"code":"NOT_FOUND","message":"practitioner not found"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *owner) set(p eventdata.Practitioner) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.practices[p.ID] = p
}

func (o *owner) misbehave(answer func(w http.ResponseWriter, r *http.Request) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answer = answer
}

// readThroughFixture is a booking service whose practice owner is o.
type readThroughFixture struct {
	t     *testing.T
	sg    *booking.Subgraph
	pool  *pgxpool.Pool
	owner *owner
}

func newReadThroughFixture(t *testing.T) readThroughFixture {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "booking")
	if err := booking.EnsurePartitions(context.Background(), pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	o := newOwner(t)
	sg, err := booking.New(context.Background(), booking.Deps{Pool: pool, Countries: countries.MustDefault(),
		Verifier: fakeVerifier{}, Logger: quiet(), PractitionerURL: o.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return readThroughFixture{t: t, sg: sg, pool: pool, owner: o}
}

// replicate feeds a snapshot to the replica as the practitioner-events consumer does.
func (f readThroughFixture) replicate(p eventdata.Practitioner) {
	f.t.Helper()
	if err := f.sg.Service.ApplyPractitionerEvent(context.Background(), envelope(f.t, "/careslot/practitioner",
		"careslot.practitioner.PractitionerProfileUpdated.v1", p.ID, p)); err != nil {
		f.t.Fatal(err)
	}
}

// replicaVersion is the version booking's replica holds (0: none).
func (f readThroughFixture) replicaVersion(id string) int64 {
	f.t.Helper()
	var v int64
	if err := f.pool.QueryRow(context.Background(),
		`SELECT coalesce((SELECT version FROM practitioner_schedules WHERE practitioner_id = $1), 0)`, id).Scan(&v); err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f readThroughFixture) wantReads(n int64) {
	f.t.Helper()
	if got := f.owner.reads.Load(); got != n {
		f.t.Fatalf("the owner was read %d times, want %d", got, n)
	}
}

func asNewPatient() context.Context {
	id := uuid.NewString()
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: auth.RolePatient})
}

func (f readThroughFixture) book(ctx context.Context, p eventdata.Practitioner, typeID string, at time.Time) (store.Appointment, error) {
	return f.sg.Service.Book(ctx, business.BookInput{PractitionerID: p.ID, AppointmentTypeID: typeID, StartsAt: at,
		IdempotencyKey: uuid.NewString()})
}

// openUntil is p at version, open every day from 08:00 to end.
func openUntil(p eventdata.Practitioner, version int64, end string) eventdata.Practitioner {
	p.Version = version
	hours := make([]eventdata.OpeningHours, len(p.OpeningHours))
	for i, h := range p.OpeningHours {
		h.EndTime = end
		hours[i] = h
	}
	p.OpeningHours = hours
	return p
}

func wantRefusal(t *testing.T, err error, code apperr.Code, reason string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Reason != reason {
		t.Fatalf("want %s (%q), got %v", code, reason, err)
	}
}

// TestReadThroughMissingPractice: a practice booking's replica has not
// received yet is read from its owner, kept, and booked; the event that
// follows changes nothing, and the current replica costs no further read.
func TestReadThroughMissingPractice(t *testing.T) {
	t.Parallel()
	f := newReadThroughFixture(t)
	typeID := uuid.NewString()
	p := practice(uuid.NewString(), typeID, 3)
	f.owner.set(p)

	if _, err := f.book(asNewPatient(), p, typeID, slotAt(14, 0)); err != nil {
		t.Fatalf("book a practice only its owner knows yet: %v", err)
	}
	f.wantReads(1)
	if v := f.replicaVersion(p.ID); v != 3 {
		t.Fatalf("replica version %d, want the owner's 3", v)
	}
	// The events arrive late, this version's and an older one: neither changes the replica.
	f.replicate(p)
	f.replicate(openUntil(p, 2, "09:00"))
	if v := f.replicaVersion(p.ID); v != 3 {
		t.Fatalf("replica version %d after late events, want 3", v)
	}

	// The replica is current: accepted bookings and a taken slot ask nobody.
	if _, err := f.book(asNewPatient(), p, typeID, slotAt(15, 0)); err != nil {
		t.Fatal(err)
	}
	_, err := f.book(asNewPatient(), p, typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.SlotUnavailable, "SLOT_TAKEN")
	f.wantReads(1)

	// A practice its owner does not know either is NOT_FOUND.
	_, err = f.book(asNewPatient(), practice(uuid.NewString(), typeID, 1), typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.NotFound, "")
	f.wantReads(2)
}

// TestReadThroughStalePractice: a hold, a booking and a move that the
// replica's older snapshot refuses (outside its opening hours, an
// appointment type it does not have) are decided again with the owner's
// newer one and accepted; a refusal the owner's current snapshot confirms
// stands.
func TestReadThroughStalePractice(t *testing.T) {
	t.Parallel()
	f := newReadThroughFixture(t)
	typeA, typeB := uuid.NewString(), uuid.NewString()
	v1 := openUntil(practice(uuid.NewString(), typeA, 1), 1, "12:00")
	f.replicate(v1)
	patient := asNewPatient()

	// A hold at 12:30, open since version 2; the booking with the hold then
	// finds the replica current.
	f.owner.set(openUntil(v1, 2, "13:00"))
	hold, err := f.sg.Service.Hold(patient, business.HoldInput{PractitionerID: v1.ID, AppointmentTypeID: typeA, StartsAt: slotAt(12, 30)})
	if err != nil {
		t.Fatalf("hold at 12:30 (open since version 2): %v", err)
	}
	f.wantReads(1)
	if _, err := f.sg.Service.Book(patient, business.BookInput{PractitionerID: v1.ID, AppointmentTypeID: typeA,
		StartsAt: slotAt(12, 30), HoldID: hold.ID, IdempotencyKey: uuid.NewString()}); err != nil {
		t.Fatalf("book the hold: %v", err)
	}
	f.wantReads(1)

	// A booking at 13:30, open since version 3.
	f.owner.set(openUntil(v1, 3, "14:00"))
	a, err := f.book(patient, v1, typeA, slotAt(13, 30))
	if err != nil {
		t.Fatalf("book 13:30 (open since version 3): %v", err)
	}
	f.wantReads(2)

	// A move to 14:30, open since version 4.
	f.owner.set(openUntil(v1, 4, "15:00"))
	if _, err := f.sg.Service.Reschedule(patient, business.RescheduleInput{AppointmentID: a.ID, StartsAt: slotAt(14, 30),
		IdempotencyKey: uuid.NewString()}); err != nil {
		t.Fatalf("move to 14:30 (open since version 4): %v", err)
	}
	f.wantReads(3)

	// An appointment type added in version 5.
	v5 := openUntil(v1, 5, "15:00")
	v5.AppointmentTypes = append(append([]eventdata.AppointmentType{}, v1.AppointmentTypes...), v1.AppointmentTypes[0])
	v5.AppointmentTypes[1].ID = typeB
	hours := make([]eventdata.OpeningHours, len(v5.OpeningHours))
	for i, h := range v5.OpeningHours {
		h.AppointmentTypeIDs = []string{typeA, typeB}
		hours[i] = h
	}
	v5.OpeningHours = hours
	f.owner.set(v5)
	if _, err := f.book(asNewPatient(), v1, typeB, slotAt(9, 0)); err != nil {
		t.Fatalf("book a type added in version 5: %v", err)
	}
	f.wantReads(4)
	if v := f.replicaVersion(v1.ID); v != 5 {
		t.Fatalf("replica version %d, want 5", v)
	}

	// 16:00 is closed in the owner's current snapshot too: the refusal stands.
	_, err = f.book(asNewPatient(), v1, typeA, slotAt(16, 0))
	wantRefusal(t, err, apperr.InvalidInput, "OUTSIDE_OPENING_HOURS")
	f.wantReads(5)
}

// TestReadThroughOwnerDown: when the owner fails, hangs past the read's
// bound, or is gone, the replica's own answer stands.
func TestReadThroughOwnerDown(t *testing.T) {
	t.Parallel()
	f := newReadThroughFixture(t)
	typeID := uuid.NewString()
	v1 := openUntil(practice(uuid.NewString(), typeID, 1), 1, "12:00")
	f.replicate(v1)
	missing := practice(uuid.NewString(), typeID, 1)
	// The owner has what would be accepted...
	f.owner.set(openUntil(v1, 2, "18:00"))
	f.owner.set(missing)

	// ...but answers 500,
	f.owner.misbehave(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, `{"error":{"code":"INTERNAL","message":"internal error"}}`, http.StatusInternalServerError)
		return true
	})
	_, err := f.book(asNewPatient(), v1, typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.InvalidInput, "OUTSIDE_OPENING_HOURS")
	_, err = f.book(asNewPatient(), missing, typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.NotFound, "")
	f.wantReads(2)

	// ...or answers only long after the read's bound (the answer would book),
	f.owner.misbehave(func(_ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
			return true
		case <-time.After(30 * time.Second):
			return false
		}
	})
	_, err = f.book(asNewPatient(), v1, typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.InvalidInput, "OUTSIDE_OPENING_HOURS")

	// ...or is gone.
	f.owner.srv.Close()
	_, err = f.sg.Service.Hold(asNewPatient(), business.HoldInput{PractitionerID: v1.ID, AppointmentTypeID: typeID, StartsAt: slotAt(14, 0)})
	wantRefusal(t, err, apperr.InvalidInput, "OUTSIDE_OPENING_HOURS")
	_, err = f.book(asNewPatient(), missing, typeID, slotAt(14, 0))
	wantRefusal(t, err, apperr.NotFound, "")
	if v := f.replicaVersion(v1.ID); v != 1 {
		t.Fatalf("replica version %d, want 1 (the owner never answered)", v)
	}
	if v := f.replicaVersion(missing.ID); v != 0 {
		t.Fatalf("replica of the missing practice at version %d, want none", v)
	}
}
