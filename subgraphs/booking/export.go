package booking

import (
	"encoding/json"
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
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
			writeExportError(w, http.StatusMethodNotAllowed, apperr.E(apperr.InvalidInput, "use GET"))
			return
		}
		ctx := r.Context()
		p, err := auth.RequirePatient(ctx)
		if err != nil {
			writeExportError(w, exportStatus(err), err)
			return
		}
		out := struct {
			PatientID    string              `json:"patientId"`
			Appointments []store.Appointment `json:"appointments"`
		}{PatientID: p.Subject, Appointments: []store.Appointment{}}
		first := business.MaxPageSize
		in := business.PageInput{First: &first}
		for {
			page, err := s.Service.PatientAppointments(ctx, p.Subject, in)
			if err != nil {
				if apperr.CodeOf(err) == apperr.Internal {
					s.deps.Logger.ErrorContext(ctx, "export failed", "err", err)
				}
				writeExportError(w, exportStatus(err), err)
				return
			}
			out.Appointments = append(out.Appointments, page.Appointments...)
			if !page.HasNextPage || len(page.Cursors) == 0 {
				break
			}
			in.After = page.Cursors[len(page.Cursors)-1]
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})
	return auth.Middleware(s.deps.Verifier)(h)
}

func exportStatus(err error) int {
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.InvalidInput:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeExportError(w http.ResponseWriter, status int, err error) {
	code, msg := apperr.CodeOf(err), "internal error"
	if e, ok := apperr.As(err); ok {
		msg = e.Message
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": string(code), "message": msg}})
}
