package practitioner

import (
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/httpserver"
)

// PracticeRoute is the internal listener's route (a net/http pattern) that
// answers one practice's current snapshot.
const PracticeRoute = "GET /internal/practices/{id}"

// PracticeHandler serves GET /internal/practices/{id} on the internal
// listener (the router does not expose it): the practice's current
// snapshot, exactly the eventdata.Practitioner its events carry, with its
// version; 404 when there is no such practice. Booking reads it when its
// replica of the practice may lag (ADR 8). The data is what
// practitioner-events carries to every consumer; like the topic, the
// endpoint is reachable only inside the cluster (NetworkPolicy), so it asks
// for no token.
func (s *Subgraph) PracticeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, err := s.Service.Snapshot(r.Context(), r.PathValue("id"))
		if err != nil {
			if apperr.CodeOf(err) == apperr.Internal {
				s.deps.Logger.ErrorContext(r.Context(), "practice snapshot failed", "err", err)
			}
			httpserver.WriteError(w, err)
			return
		}
		httpserver.WriteJSON(w, snap)
	})
}
