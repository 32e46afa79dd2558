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
// appointment of the patient whose bearer token comes with the request (the
// patient service forwards the caller's) and their live no-show
// restrictions, as one JSON document
// {"patientId": ..., "appointments": [...], "bookingRestrictions": [...]}.
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
			Restrictions []store.Restriction `json:"bookingRestrictions"`
		}{PatientID: p.Account, Appointments: []store.Appointment{}, Restrictions: append([]store.Restriction{}, restrictions...)}
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
