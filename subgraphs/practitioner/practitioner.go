// Package practitioner is the practitioner subgraph: profiles, locations,
// appointment types (and, with the booking core, opening hours and absences).
package practitioner

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/graph"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "practitioner"

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Pool      *pgxpool.Pool
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
}

// Subgraph is a ready practitioner service.
type Subgraph struct {
	Service  *business.Service
	resolver *graph.Resolver
	deps     Deps
}

// New builds the subgraph and makes sure every served country has its partitions.
func New(ctx context.Context, deps Deps) (*Subgraph, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	st := store.New(deps.Pool)
	if err := st.EnsurePartitions(ctx, deps.Countries.Codes()); err != nil {
		return nil, err
	}
	svc := business.New(st, deps.Countries)
	return &Subgraph{Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps}, nil
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{
		Logger:     s.deps.Logger,
		Verifier:   s.deps.Verifier,
		PerRequest: s.resolver.WithLoaders,
	})
}
