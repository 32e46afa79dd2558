package booking

import (
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/httpserver"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// ExportPath is where the service answers GDPR export requests.
const ExportPath = "/internal/export"

// ExportHandler serves GET /internal/export (internal listener): every
// appointment of the patient whose bearer token comes with the request (the
// patient service forwards the caller's), as one JSON document
// {"patientId": ..., "appointments": [...]}.
func (s *Subgraph) ExportHandler() http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			w.Header().Set("Allow", http.MethodGet)
			httpserver.WriteError(w, apperr.E(apperr.InvalidInput, "use GET"))
			return
		}
		ctx := r.Context()
		p, err := auth.RequirePatient(ctx)
		if err != nil {
			httpserver.WriteError(w, err)
			return
		}
		out := struct {
			PatientID    string              `json:"patientId"`
			Appointments []store.Appointment `json:"appointments"`
		}{PatientID: p.Account, Appointments: []store.Appointment{}}
		first := business.MaxPageSize
		in := business.PageInput{First: &first}
		for {
			page, err := s.Service.PatientAppointments(ctx, p.Account, in)
			if err != nil {
				if apperr.CodeOf(err) == apperr.Internal {
					s.deps.Logger.ErrorContext(ctx, "export failed", "err", err)
				}
				httpserver.WriteError(w, err)
				return
			}
			out.Appointments = append(out.Appointments, page.Appointments...)
			if !page.HasNextPage || len(page.Cursors) == 0 {
				break
			}
			in.After = page.Cursors[len(page.Cursors)-1]
		}
		httpserver.WriteJSON(w, out)
	})
	return auth.Middleware(s.deps.Verifier)(h)
}
