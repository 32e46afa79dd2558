package store

import "context"

// CountDoubleBookings counts the pairs of confirmed appointments of one
// practitioner whose blocked ranges overlap: what the exclusion constraint
// keeps at zero, and what a load test checks afterwards.
func (s *Store) CountDoubleBookings(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM appointments a JOIN appointments b
		ON a.practitioner_id = b.practitioner_id AND a.id < b.id AND a.blocked && b.blocked
		WHERE a.status = 'CONFIRMED' AND b.status = 'CONFIRMED'`).Scan(&n)
	return n, err
}
