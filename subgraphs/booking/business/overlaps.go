package business

import "context"

// DoubleBookings counts the pairs of confirmed appointments of one
// practitioner that overlap; the design promises zero.
func (s *Service) DoubleBookings(ctx context.Context) (int, error) {
	return s.store.CountDoubleBookings(ctx)
}
