// Package patient is the patient subgraph: patient accounts, their relatives
// and notification preferences.
package patient

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/subgraphs/patient/business"
	"github.com/careslot/careslot/subgraphs/patient/graph"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "patient"

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Pool      *pgxpool.Pool
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
	// ExportSources are the services asked for their part of a GDPR export:
	// name → base URL of the service's internal listener (e.g. "booking" →
	// "http://127.0.0.1:4005"); each answers GET <url>/internal/export for
	// the patient whose bearer token it is given.
	ExportSources map[string]string
	// HTTPClient calls the export sources (default: httpclient.New with the export timeout,
	// carrying the request's trace).
	HTTPClient *http.Client
}

// Subgraph is a ready patient service.
type Subgraph struct {
	Service  *business.Service
	resolver *graph.Resolver
	deps     Deps
}

// New builds the subgraph. The patient store is not partitioned, so there is
// nothing to prepare; ctx is kept for symmetry with the other subgraphs.
func New(_ context.Context, deps Deps) (*Subgraph, error) {
	svc := business.New(store.New(deps.Pool), deps.Countries)
	client := deps.HTTPClient
	if client == nil {
		client = httpclient.New(business.ExportTimeout)
	}
	sources := make(map[string]business.ExportSource, len(deps.ExportSources))
	for name, url := range deps.ExportSources {
		sources[name] = export.PersonalDataSource{Name: name, BaseURL: url, Client: client}
	}
	svc.SetExportSources(sources)
	return &Subgraph{Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps}, nil
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint. The request's
// Authorization header stays in its context, for exportMyData to forward.
func (s *Subgraph) Handler() http.Handler {
	h := gqlserver.New(s.NewSchema(), gqlserver.Options{
		Logger:     s.deps.Logger,
		Verifier:   s.deps.Verifier,
		PerRequest: s.resolver.WithLoaders,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(business.WithAuthorization(r.Context(), r.Header.Get("Authorization"))))
	})
}
