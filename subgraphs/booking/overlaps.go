package booking

import (
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/httpserver"
)

// OverlapsPath is where the service counts its double bookings (internal
// listener): a load generator asks it after driving bookings, instead of
// reading booking's database.
const OverlapsPath = "/internal/overlaps"

// Overlaps is OverlapsPath's answer.
type Overlaps struct {
	// DoubleBookings counts the pairs of confirmed appointments of one
	// practitioner whose blocked ranges overlap.
	DoubleBookings int `json:"doubleBookings"`
}

// OverlapsHandler serves GET OverlapsPath.
func (s *Subgraph) OverlapsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			httpserver.WriteError(w, apperr.E(apperr.InvalidInput, "use GET"))
			return
		}
		n, err := s.Service.DoubleBookings(r.Context())
		if err != nil {
			s.deps.Logger.ErrorContext(r.Context(), "counting overlaps", "err", err)
			httpserver.WriteError(w, err)
			return
		}
		httpserver.WriteJSON(w, Overlaps{DoubleBookings: n})
	})
}
