package eventdata

import (
	"context"
	"strings"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
)

// PatientHandlers are what a consumer of patient-events does with each kind
// of event; ApplyPatientEvent reads and checks the event once for all the
// services that keep a patient replica.
type PatientHandlers struct {
	// Account applies an account at a version (every event but an erasure
	// and the desk ones); p.ID is a valid id.
	Account func(ctx context.Context, p Patient) error
	// Erased applies an erasure; p.ID is a valid id (the subject's when the
	// data has none), p.ErasedRelativeIDs the relatives erased with it.
	Erased func(ctx context.Context, p Patient) error
	// DeskRecorded applies DeskPatientRecorded; d.ID and d.PractitionerID
	// are valid ids.
	DeskRecorded func(ctx context.Context, d DeskPatient) error
	// DeskClaimed applies DeskPatientClaimed (its three ids valid); nil
	// passes claims over.
	DeskClaimed func(ctx context.Context, c DeskPatientClaim) error
}

// ApplyPatientEvent hands ev to the handler of its kind. Other services'
// events are passed over (nil); an event whose data does not decode or lacks
// an id is an events.Malformed error, which the consumer dead-letters.
func ApplyPatientEvent(ctx context.Context, ev events.Envelope, h PatientHandlers) error {
	switch {
	case !strings.HasPrefix(ev.Type, PatientEventPrefix):
		return nil
	case ev.Type == DeskPatientRecorded:
		var d DeskPatient
		if err := ev.DataAs(&d); err != nil || !uid.Valid(d.ID) || !uid.Valid(d.PractitionerID) {
			return events.Malformed(ev, err)
		}
		return h.DeskRecorded(ctx, d)
	case ev.Type == DeskPatientClaimed:
		if h.DeskClaimed == nil {
			return nil
		}
		var c DeskPatientClaim
		if err := ev.DataAs(&c); err != nil || !uid.Valid(c.DeskPatientID) || !uid.Valid(c.AccountID) || !uid.Valid(c.PractitionerID) {
			return events.Malformed(ev, err)
		}
		return h.DeskClaimed(ctx, c)
	}
	var p Patient
	if len(ev.Data) > 0 {
		if err := ev.DataAs(&p); err != nil {
			return events.Malformed(ev, err)
		}
	}
	if ev.Type == PatientErased {
		if p.ID == "" {
			p.ID = ev.Subject
		}
		if !uid.Valid(p.ID) {
			return events.Malformed(ev, nil)
		}
		return h.Erased(ctx, p)
	}
	if !uid.Valid(p.ID) {
		return events.Malformed(ev, nil)
	}
	return h.Account(ctx, p)
}
