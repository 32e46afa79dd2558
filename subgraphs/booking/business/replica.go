package business

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Consumer groups of booking's replicas.
const (
	PractitionerGroup = "booking.practitioner-schedules"
	PatientGroup      = "booking.patients"
)

// ApplyPractitionerEvent keeps the schedule replica: every practitioner
// event carries the whole practice at a version, and a newer version replaces
// the replica (so replays and duplicates change nothing). It is the handler
// of the practitioner-events consumer.
func (s *Service) ApplyPractitionerEvent(ctx context.Context, ev events.Envelope) error {
	if !strings.HasPrefix(ev.Type, eventdata.PractitionerEventPrefix) {
		return nil
	}
	var p eventdata.Practitioner
	if err := ev.DataAs(&p); err != nil || !uid.Valid(p.ID) || p.Country == "" {
		return events.Malformed(ev, err)
	}
	applied, waiting, before, err := s.store.PutScheduleSeeingWaitlist(ctx, store.Schedule{PractitionerID: p.ID, Country: p.Country,
		Version: p.Version, Snapshot: ev.Data})
	if err != nil || !applied || !waiting || !mayOpenSlots(before, p) {
		return err
	}
	// New hours (or types, or an absence gone) may open slots that waiting
	// patients are to be offered first. A failure here must not hold the
	// replica back: it is logged.
	if n, err := s.OfferOpenSlots(ctx, p.ID); err != nil {
		s.log.WarnContext(ctx, "offering opened slots to waiting patients", "practitioner_id", p.ID, "err", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "opened slots offered to waiting patients", "practitioner_id", p.ID, "offers", n)
	}
	return nil
}

// mayOpenSlots reports whether practice p, replacing the snapshot before
// (nil: none), changed what can open slots: its opening hours, absences or
// appointment types (a profile edit opens none).
func mayOpenSlots(before []byte, p eventdata.Practitioner) bool {
	var old eventdata.Practitioner
	if before == nil || json.Unmarshal(before, &old) != nil {
		return true
	}
	return !reflect.DeepEqual(old.OpeningHours, p.OpeningHours) || !reflect.DeepEqual(old.Absences, p.Absences) ||
		!reflect.DeepEqual(old.AppointmentTypes, p.AppointmentTypes) || old.AcceptsNewPatients != p.AcceptsNewPatients
}

// ApplyPatientEvent keeps the patient replica (names for the agenda,
// relatives to check bookings against): a newer version replaces it; an
// erasure anonymises the patient for good and removes their notes. Desk
// patients are kept beside the accounts, and a claim moves a desk patient's
// appointments to the account (desk.go).
func (s *Service) ApplyPatientEvent(ctx context.Context, ev events.Envelope) error {
	return eventdata.ApplyPatientEvent(ctx, ev, eventdata.PatientHandlers{
		Account: s.putPatient,
		Erased: func(ctx context.Context, p eventdata.Patient) error {
			return s.ErasePatient(ctx, p.ID, p.Version, p.ErasedRelativeIDs)
		},
		DeskRecorded: s.putDeskPatient,
		DeskClaimed:  s.ClaimDeskPatient,
	})
}

// putPatient keeps an account in the replica (newer version wins).
func (s *Service) putPatient(ctx context.Context, p eventdata.Patient) error {
	rel := make([]store.Relative, 0, len(p.Relatives))
	for _, r := range p.Relatives {
		rel = append(rel, store.Relative{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName})
	}
	_, err := s.store.PutPatient(ctx, store.Patient{ID: p.ID, Version: p.Version, FirstName: p.FirstName,
		LastName: p.LastName, Phone: p.Phone, Relatives: rel})
	return err
}

// ErasePatient carries out a patient's erasure in one transaction, with its
// events in the outbox: their waitlist entries go; their live holds end
// (HoldReleased) and their future
// appointments, their relatives' included, are cancelled with reason
// PATIENT_ERASED (AppointmentCancelled), so availability frees the slots and
// notification tells each practice (each slot freed is first offered to a
// waiting patient: offer.go); every row the account booked, past ones
// included, stays for the practice's records anonymised
// (AppointmentAnonymised). Replays find nothing left to change.
func (s *Service) ErasePatient(ctx context.Context, id string, version int64, erasedRelatives []string) error {
	id = canonicalID(id)
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		// The account's waitlist goes (its offers' holds end below).
		if err := tx.DeleteWaitlistOf(ctx, id); err != nil {
			return err
		}
		now := s.now()
		e, err := tx.ErasePatient(ctx, id, version, erasedRelatives, eventdata.ReasonPatientErased, now)
		if err != nil {
			return err
		}
		// Each slot freed goes to a waiting patient first, its offer written
		// before the event that freed it.
		for _, h := range e.Released {
			if err := s.offerFreed(ctx, tx, h, now); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, eventdata.HoldReleased, h, nil); err != nil {
				return err
			}
		}
		for _, a := range e.Cancelled {
			if err := s.offerFreed(ctx, tx, a, now); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, eventdata.AppointmentCancelled, a, nil); err != nil {
				return err
			}
		}
		for i, a := range e.Anonymised {
			data := Payload(a)
			data.ErasedPersonID = e.ErasedPersons[i]
			ev, err := events.New(Source, eventdata.AppointmentAnonymised, a.ID, data)
			if err != nil {
				return err
			}
			if err := tx.Emit(ctx, events.BookingEvents, a.PractitionerID, ev); err != nil {
				return err
			}
		}
		if n := len(e.Cancelled) + len(e.Anonymised); n > 0 {
			s.log.InfoContext(ctx, "patient erased", "cancelled", len(e.Cancelled), "anonymised", len(e.Anonymised),
				"holds_released", len(e.Released))
		}
		return nil
	})
}
