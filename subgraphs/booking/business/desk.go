package business

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Desk bookings (ADR 21): the practitioner or a secretary acting for them
// books for one of the practice's desk patients — a caller without an
// account, recorded by the patient service — through the one booking path
// (Book's read, decideBooking, store.Book) with the desk's rules:
//
//   - the same constraints as an online booking: the practitioner's and the
//     person's exclusion constraints, opening hours, absences, the type's
//     minimum notice and horizon;
//   - the same idempotency (keys scoped to the staff member);
//   - not the online-only rules: a type not bookable online or not open to
//     new patients may be booked at the desk (the practice decides), and the
//     booking counts against no online limit (bookings per day; desk
//     bookings hold nothing).
//
// A desk patient is booked for by its own practice only: any other
// practice's desk patient is NOT_FOUND. Once the person has claimed the
// record (registering with a vouched-for contact), a desk booking for it is
// their account's. The desk may also book for a patient with an account
// whom the practice knows from its agenda (an appointment of any status):
// any other account is NOT_FOUND.

// opDeskBook is the operation an idempotency key of a desk booking names.
const opDeskBook = "desk-book"

// DeskPatientOwner reads a desk patient from the service that owns it (the
// patient service's internal endpoint), when the replica has not learnt it.
type DeskPatientOwner interface {
	// DeskPatient is the record as DeskPatientRecorded carries it
	// (eventdata.DeskPatient JSON), or ErrDeskPatientUnknown.
	DeskPatient(ctx context.Context, id string) (json.RawMessage, error)
}

// ErrDeskPatientUnknown is the owner's answer for a desk patient it does not have.
var ErrDeskPatientUnknown = errors.New("booking: the patient service does not know the desk patient")

// BookAtDeskInput is a desk booking.
type BookAtDeskInput struct {
	PractitionerID    string
	AppointmentTypeID string
	StartsAt          time.Time
	DeskPatientID     string // one of DeskPatientID and PatientID
	PatientID         string
	IdempotencyKey    string
	Note              string
}

// BookAtDesk books a slot of the practice for one of its desk patients, for
// the practitioner or a secretary acting for them (FORBIDDEN otherwise),
// with the desk's rules (see above). A retry with the same key (the same
// staff member's) returns the first answer and books nothing twice.
func (s *Service) BookAtDesk(ctx context.Context, in BookAtDeskInput) (store.Appointment, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin)
	if err != nil {
		return store.Appointment{}, err
	}
	if _, err := auth.ActingPractitioner(ctx, in.PractitionerID); err != nil {
		return store.Appointment{}, err
	}
	who := field{"deskPatientId", in.DeskPatientID}
	switch {
	case (in.DeskPatientID == "") == (in.PatientID == ""):
		return store.Appointment{}, apperr.Invalid("deskPatientId", "give either deskPatientId or patientId")
	case in.PatientID != "":
		who = field{"patientId", in.PatientID}
	}
	if err := ids(field{"practitionerId", in.PractitionerID}, field{"appointmentTypeId", in.AppointmentTypeID}, who); err != nil {
		return store.Appointment{}, err
	}
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return store.Appointment{}, err
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > MaxNoteLength {
		return store.Appointment{}, apperr.Invalid("note", "must be at most %d characters", MaxNoteLength)
	}
	start := in.StartsAt.UTC()
	req := bookRequest{
		in: BookInput{PractitionerID: in.PractitionerID, AppointmentTypeID: in.AppointmentTypeID, StartsAt: in.StartsAt,
			IdempotencyKey: in.IdempotencyKey, Note: note},
		me: caller.Account, key: key, note: note, start: start, op: opDeskBook, desk: true,
		hash: requestHash(opDeskBook, canonicalID(in.PractitionerID), in.AppointmentTypeID, start.Format(time.RFC3339Nano),
			who.name, canonicalID(who.value), note),
	}
	// (A used key answers in book's read, whatever became of the record since.)
	if in.PatientID != "" {
		req.patient = canonicalID(in.PatientID)
		known, err := s.store.KnowsPatient(ctx, canonicalID(in.PractitionerID), req.patient)
		if err != nil {
			return store.Appointment{}, err
		}
		if !known {
			return store.Appointment{}, apperr.NotFoundf("patient %q not found", in.PatientID)
		}
	} else if req.patient, req.deskPatient, err = s.deskPatientFor(ctx, canonicalID(in.PractitionerID), canonicalID(in.DeskPatientID)); err != nil {
		return store.Appointment{}, err
	}
	return onceMoreIfConnectionLost(s, func() (store.Appointment, error) {
		return withFreshPractice(ctx, s, func() (store.Appointment, error) { return s.book(ctx, req) })
	})
}

// deskPatientFor is who a desk booking of practitionerID for the desk
// patient deskID is for: the record (desk true) or, once claimed, the
// account that claimed it. The replica answers; when it has not learnt the
// record yet, the patient service's does (read through, then kept in the
// replica). Another practice's record is NOT_FOUND, like a record that does
// not exist.
func (s *Service) deskPatientFor(ctx context.Context, practitionerID, deskID string) (patient string, desk bool, err error) {
	rec, err := s.store.DeskPatientRecord(ctx, deskID)
	if errors.Is(err, store.ErrNotFound) {
		if err = s.readDeskPatientFromOwner(ctx, deskID); err == nil {
			rec, err = s.store.DeskPatientRecord(ctx, deskID)
		}
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrDeskPatientUnknown) ||
		(err == nil && rec.PractitionerID != practitionerID) {
		return "", false, apperr.NotFoundf("desk patient %q not found", deskID)
	}
	if err != nil {
		return "", false, err
	}
	if rec.ClaimedBy != "" {
		return rec.ClaimedBy, false, nil
	}
	return deskID, true, nil
}

// readDeskPatientFromOwner reads a desk patient from the patient service
// into the replica (the consumer's versioned upsert). Without an owner, or
// past ownerTimeout, it is ErrDeskPatientUnknown: the replica's answer stands.
func (s *Service) readDeskPatientFromOwner(ctx context.Context, id string) error {
	if s.deskOwner == nil {
		return ErrDeskPatientUnknown
	}
	ctx, cancel := context.WithTimeout(ctx, s.ownerTimeout)
	defer cancel()
	raw, err := s.deskOwner.DeskPatient(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrDeskPatientUnknown) {
			s.log.WarnContext(ctx, "booking: the patient service did not answer for a desk patient", "desk_patient_id", id, "err", err)
		}
		return ErrDeskPatientUnknown
	}
	var d eventdata.DeskPatient
	if err := json.Unmarshal(raw, &d); err != nil || canonicalID(d.ID) != id || !uid.Valid(d.PractitionerID) || d.Version <= 0 {
		return errors.New("booking: the patient service answered another or a malformed desk patient")
	}
	_, err = s.store.PutDeskPatient(ctx, deskRow(d))
	return err
}

// deskRequest is the decision context of the desk (a desk booking, a move
// by the practice's staff): the online-only rules do not apply.
func deskRequest(now time.Time) slots.Request { return slots.Request{Now: now} }

// ---- patient-events: the desk patients' replica and their claims ----

// putDeskPatient keeps a desk patient in the replica (newer version wins).
func (s *Service) putDeskPatient(ctx context.Context, d eventdata.DeskPatient) error {
	_, err := s.store.PutDeskPatient(ctx, deskRow(d))
	return err
}

func deskRow(d eventdata.DeskPatient) store.DeskPatient {
	return store.DeskPatient{ID: canonicalID(d.ID), Version: d.Version, PractitionerID: canonicalID(d.PractitionerID),
		FirstName: d.FirstName, LastName: d.LastName, Phone: d.Phone, ClaimedBy: d.ClaimedBy}
}

// ClaimDeskPatient applies DeskPatientClaimed: the record's appointments
// become the account's (patient and person), so that the account's
// appointments list them; one that would overlap an appointment the account
// has then stays on the desk record, and is logged. One transaction; a
// replay finds nothing left to move.
func (s *Service) ClaimDeskPatient(ctx context.Context, c eventdata.DeskPatientClaim) error {
	desk, account := canonicalID(c.DeskPatientID), canonicalID(c.AccountID)
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		out, err := tx.ClaimDeskPatient(ctx, desk, account, canonicalID(c.PractitionerID), c.Version, s.now())
		if err != nil {
			return err
		}
		for _, a := range out.Kept {
			s.log.WarnContext(ctx, "booking: a claimed desk patient's appointment overlaps one of the account's; it stays on the desk record",
				"desk_patient_id", desk, "appointment_id", a.ID, "practitioner_id", a.PractitionerID)
		}
		if len(out.Moved)+len(out.Kept) > 0 {
			s.log.InfoContext(ctx, "booking: desk patient claimed", "desk_patient_id", desk, "moved", len(out.Moved), "kept", len(out.Kept))
		}
		return nil
	})
}
