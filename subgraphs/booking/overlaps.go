package booking

import (
	"net/http"

	"github.com/careslot/careslot/internal/export"
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
	return export.Document(func(r *http.Request) (any, error) {
		n, err := s.Service.DoubleBookings(r.Context())
		return Overlaps{DoubleBookings: n}, err
	}, s.deps.Logger)
}
