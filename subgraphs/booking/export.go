package booking

import (
	"net/http"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// ExportPath is where the service answers GDPR export requests.
const ExportPath = "/internal/export"

// ExportHandler serves GET /internal/export (internal listener): every
// appointment, waitlist entry and live no-show restriction of the patient
// whose bearer token comes with the request (the patient service forwards
// the caller's), as one JSON document {"patientId": ..., "appointments":
// [...], "waitlist": [...], "bookingRestrictions": [...]}.
func (s *Subgraph) ExportHandler() http.Handler {
	return auth.Middleware(s.deps.Verifier)(export.Document(func(r *http.Request) (any, error) {
		ctx := r.Context()
		p, err := auth.RequirePatient(ctx)
		if err != nil {
			return nil, err
		}
		restrictions, err := s.Service.PatientRestrictions(ctx, p.Account)
		if err != nil {
			return nil, err
		}
		out := struct {
			PatientID    string              `json:"patientId"`
			Appointments []store.Appointment `json:"appointments"`
			Waitlist     []store.Entry       `json:"waitlist"`
			Restrictions []store.Restriction `json:"bookingRestrictions"`
		}{PatientID: p.Account, Appointments: []store.Appointment{}, Restrictions: append([]store.Restriction{}, restrictions...)}
		if out.Waitlist, err = s.Service.WaitlistEntries(ctx); err != nil {
			return nil, err
		}
		if out.Waitlist == nil {
			out.Waitlist = []store.Entry{}
		}
		first := business.MaxPageSize
		in := business.PageInput{First: &first}
		for {
			page, err := s.Service.PatientAppointments(ctx, p.Account, in)
			if err != nil {
				return nil, err
			}
			out.Appointments = append(out.Appointments, page.Appointments...)
			if !page.HasNextPage || len(page.Cursors) == 0 {
				return out, nil
			}
			in.After = page.Cursors[len(page.Cursors)-1]
		}
	}, s.deps.Logger))
}
