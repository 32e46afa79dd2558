package patient

import (
	"log/slog"
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/httpserver"
)

// DeskPatientRoute is the internal listener's route (a net/http pattern)
// that answers one desk patient's current snapshot.
const DeskPatientRoute = "GET /internal/desk-patients/{id}"

// DeskPatientHandler serves GET /internal/desk-patients/{id} on the internal
// listener (the router does not expose it): the record exactly as
// DeskPatientRecorded carries it (eventdata.DeskPatient, with its version
// and practice); 404 when there is no such record. Booking reads it when its
// replica has not learnt a record a desk booking names yet (ADR 8, 21). The
// data is what patient-events carries to every consumer; like the topic,
// the endpoint is reachable only inside the cluster (NetworkPolicy), so it
// asks for no token.
func (s *Subgraph) DeskPatientHandler() http.Handler {
	log := s.deps.Logger
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, err := s.Service.DeskPatientSnapshot(r.Context(), r.PathValue("id"))
		if err != nil {
			if apperr.CodeOf(err) == apperr.Internal {
				log.ErrorContext(r.Context(), "desk patient snapshot failed", "err", err)
			}
			httpserver.WriteError(w, err)
			return
		}
		httpserver.WriteJSON(w, snap)
	})
}
