package booking_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

// TestReadThroughDeskPatient: a desk booking naming a desk patient the
// replica has not learnt yet reads it from the patient service's internal
// endpoint (served here as the patient service does: GET
// /internal/desk-patients/{id}, the record its events carry, 404 when
// unknown; patient's own tests check the endpoint), keeps it, and books; a
// record of another practice, or one the owner does not know, is NOT_FOUND.
func TestReadThroughDeskPatient(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		known = map[string]eventdata.DeskPatient{}
		reads atomic.Int64
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/desk-patients/{id}", func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		mu.Lock()
		d, ok := known[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.Error(w, `{"error":{"code":"NOT_FOUND","message":"desk patient not found"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	})
	owner := httptest.NewServer(mux)
	t.Cleanup(owner.Close)

	pool, _ := testenv.NewDatabase(t, "booking")
	if err := booking.EnsurePartitions(context.Background(), pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := booking.New(context.Background(), booking.Deps{Pool: pool, Countries: countries.MustDefault(),
		Verifier: fakeVerifier{}, Logger: quiet(), PatientURL: owner.URL})
	if err != nil {
		t.Fatal(err)
	}
	typeID, doc, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, id := range []string{doc, other} {
		if err := sg.Service.ApplyPractitionerEvent(context.Background(), envelope(t, "/careslot/practitioner",
			"careslot.practitioner.PractitionerRegistered.v1", id, practice(id, typeID, 1))); err != nil {
			t.Fatal(err)
		}
	}
	lea := eventdata.DeskPatient{ID: uuid.NewString(), Version: 1, PractitionerID: doc, FirstName: "Léa", LastName: "Roux",
		BirthDate: "1975-05-06", Email: "lea@example.org"}
	mu.Lock()
	known[lea.ID] = lea
	mu.Unlock()
	desk := auth.WithPrincipal(context.Background(), auth.NewPrincipal("https://id.example", "sec", auth.RoleSecretary, []string{doc, other}))
	book := func(practitioner, deskPatient string, hh int) error {
		_, err := sg.Service.BookAtDesk(desk, business.BookAtDeskInput{PractitionerID: practitioner, AppointmentTypeID: typeID,
			StartsAt: slotAt(hh, 0), DeskPatientID: deskPatient, IdempotencyKey: uuid.NewString()})
		return err
	}

	if err := book(doc, lea.ID, 10); err != nil {
		t.Fatalf("a desk patient only its owner knows yet: %v", err)
	}
	var name string
	if err := pool.QueryRow(context.Background(), `SELECT first_name FROM patients WHERE id = $1 AND practitioner_id = $2`,
		lea.ID, doc).Scan(&name); err != nil || name != "Léa" || reads.Load() != 1 {
		t.Fatalf("replica %q (%v), %d reads", name, err, reads.Load())
	}
	// Kept: the next booking asks nobody.
	if err := book(doc, lea.ID, 11); err != nil || reads.Load() != 1 {
		t.Fatalf("second booking: %v, %d reads", err, reads.Load())
	}
	// Another practice's record, or an unknown one, is NOT_FOUND.
	wantRefusal(t, book(other, lea.ID, 12), apperr.NotFound, "")
	wantRefusal(t, book(doc, uuid.NewString(), 12), apperr.NotFound, "")
	if reads.Load() != 2 {
		t.Fatalf("%d reads, want 2", reads.Load())
	}
}
