package platform

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/practitioner"
)

// Partitioned are the services whose tables are split by country: migrate
// creates the served countries' partitions, serve checks that they exist.
var Partitioned = map[string]struct {
	Tables []string
	Ensure func(ctx context.Context, pool *pgxpool.Pool, codes []string) error
}{
	practitioner.Name: {practitioner.PartitionedTables, practitioner.EnsurePartitions},
	booking.Name:      {booking.PartitionedTables, booking.EnsurePartitions},
}
