package booking

import (
	"context"
	"net/http"

	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// ExportPath is where the service answers GDPR export requests.
const ExportPath = export.PersonalDataPath

// ExportHandler serves GET /internal/export (internal listener): every
// appointment, waitlist entry and live no-show restriction of the patient
// whose bearer token comes with the request (the patient service forwards
// the caller's), as one JSON document {"patientId": ..., "appointments":
// [...], "waitlist": [...], "bookingRestrictions": [...]}.
func (s *Subgraph) ExportHandler() http.Handler {
	return export.PersonalData(s.deps.Verifier, func(ctx context.Context, patientID string) (any, error) {
		restrictions, err := s.Service.PatientRestrictions(ctx, patientID)
		if err != nil {
			return nil, err
		}
		out := struct {
			PatientID    string              `json:"patientId"`
			Appointments []store.Appointment `json:"appointments"`
			Waitlist     []store.Entry       `json:"waitlist"`
			Restrictions []store.Restriction `json:"bookingRestrictions"`
		}{PatientID: patientID, Appointments: []store.Appointment{}, Restrictions: append([]store.Restriction{}, restrictions...)}
		if out.Waitlist, err = s.Service.WaitlistEntries(ctx); err != nil {
			return nil, err
		}
		if out.Waitlist == nil {
			out.Waitlist = []store.Entry{}
		}
		first := business.MaxPageSize
		in := business.PageInput{First: &first}
		for {
			page, err := s.Service.PatientAppointments(ctx, patientID, in)
			if err != nil {
				return nil, err
			}
			out.Appointments = append(out.Appointments, page.Appointments...)
			if !page.HasNextPage || len(page.Cursors) == 0 {
				return out, nil
			}
			in.After = page.Cursors[len(page.Cursors)-1]
		}
	}, s.deps.Logger)
}
