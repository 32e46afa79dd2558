// Package search is the search subgraph: the practitioner search index (one
// document per practitioner location), kept current from practitioner-events
// and availability-events, answering searchPractitioners from the index alone
// and caching pages in Redis.
package search

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/subgraphs/search/business"
	"github.com/careslot/careslot/subgraphs/search/graph"
	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/embedded"
)

// Name is the service's name in configuration, routing and events.
const Name = "search"

// replayMargin is how far before the process start an embedded index's
// consumer begins reading, so that no event falls between the warm start
// (Load) and the consumer; replays are idempotent.
const replayMargin = 2 * time.Minute

// Deps are what the subgraph needs from the platform.
type Deps struct {
	// Redis caches search pages (nil: no cache) and dedupes consumed events.
	Redis     redis.UniversalClient
	KeyPrefix string
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
	// KafkaBrokers are the brokers to consume from; empty: no consumer.
	KafkaBrokers []string
	TopicPrefix  string
	// OpenSearchURL selects the OpenSearch backend; empty: the embedded index.
	OpenSearchURL string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CacheTTL is how long a page stays cached (default 45s).
	CacheTTL time.Duration
}

// Subgraph is a ready search service.
type Subgraph struct {
	Service  *business.Service
	resolver *graph.Resolver
	deps     Deps
	embedded bool
	started  time.Time
	instance string
	ready    chan struct{}
	consumer *kafka.Consumer // nil without brokers
}

// New builds the subgraph on the configured backend and makes sure every
// served country has its index. An embedded index starts empty: call Load.
func New(ctx context.Context, deps Deps) (*Subgraph, error) {
	if deps.Countries == nil {
		return nil, errors.New("search: no country catalogue")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	var (
		idx       store.Index
		inProcess bool
	)
	if deps.OpenSearchURL == "" {
		idx, inProcess = embedded.New(), true
	} else {
		osIdx, err := store.NewOpenSearch(deps.OpenSearchURL, "")
		if err != nil {
			return nil, err
		}
		idx = osIdx
	}
	for _, c := range deps.Countries.Codes() {
		if err := idx.EnsureIndex(ctx, c); err != nil {
			return nil, err
		}
	}
	var cache business.Cache
	if deps.Redis != nil {
		cache = store.NewRedisCache(deps.Redis, deps.KeyPrefix, deps.CacheTTL)
	}
	svc := business.New(idx, cache, deps.Countries, deps.Now, deps.Logger.With("service", Name))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	sg := &Subgraph{
		Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps, embedded: inProcess,
		started: deps.Now(), instance: host + "-" + hex.EncodeToString(b), ready: make(chan struct{}),
	}
	if err := sg.newConsumer(); err != nil {
		return nil, err
	}
	return sg, nil
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint. Search is public.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{Logger: s.deps.Logger, Verifier: s.deps.Verifier})
}

// Embedded reports whether the subgraph runs the in-process index.
func (s *Subgraph) Embedded() bool { return s.embedded }

// Load warms an embedded index at process start from a stream of every
// practitioner snapshot (the wiring streams them from the practitioner store,
// e.g. its snapshot export) and, optionally, of every next available slot.
// Cost: one pass over all practices — for 500,000 practitioners a few
// seconds of CPU plus the read of the store — before the index answers
// fully (searches meanwhile see a partial index). With OpenSearch, whose
// index persists, it does nothing.
func (s *Subgraph) Load(ctx context.Context, snapshots func(fn func([]eventdata.Practitioner) error) error, nextSlots ...func(fn func([]eventdata.Availability) error) error) error {
	if !s.embedded {
		return nil
	}
	var next business.NextSlotStream
	if len(nextSlots) > 0 {
		next = nextSlots[0]
	}
	start := time.Now()
	n, err := s.Service.Load(ctx, snapshots, next)
	s.deps.Logger.InfoContext(ctx, "search index loaded", "practitioners", n, "took", time.Since(start), "err", err)
	return err
}

// Rebuild empties and refills the index from the authoritative stores
// (`careslot rebuild search`).
func (s *Subgraph) Rebuild(ctx context.Context, practitioners func(fn func([]eventdata.Practitioner) error) error, nextSlots func(fn func([]eventdata.Availability) error) error) error {
	_, err := s.Service.Rebuild(ctx, practitioners, nextSlots)
	return err
}

// Ready is closed once the event consumer has joined its group.
func (s *Subgraph) Ready() <-chan struct{} {
	if s.consumer == nil {
		return s.ready // never: nothing is consumed
	}
	return s.consumer.Ready()
}

// CaughtUp returns nil once the event consumer has processed what its topics
// held when it started (a readiness check; nil without brokers).
func (s *Subgraph) CaughtUp(context.Context) error {
	if s.consumer == nil {
		return nil
	}
	return kafka.CaughtUp(s.consumer)
}

// Workers are the background loops: one consumer of practitioner-events and
// availability-events.
func (s *Subgraph) Workers() []func(context.Context) error {
	if s.consumer == nil {
		return nil
	}
	return []func(context.Context) error{s.consumer.Run}
}

// newConsumer makes the consumer of Workers. An embedded index is per
// process, so each process consumes every event in a consumer group of its
// own that starts a little before the process did (the warm start covers
// what came earlier); with OpenSearch the processes share the group "search".
func (s *Subgraph) newConsumer() error {
	if len(s.deps.KafkaBrokers) == 0 {
		return nil
	}
	cfg := kafka.ConsumerConfig{
		Brokers: s.deps.KafkaBrokers,
		Group:   Name,
		Topics:  kafka.Topics(s.deps.TopicPrefix, events.PractitionerEvents, events.AvailabilityEvents),
		Handler: s.Service.HandleEvent,
		Logger:  s.deps.Logger,
	}
	if s.embedded {
		cfg.Group = Name + "-" + s.instance
		cfg.StartAt = s.started.Add(-replayMargin)
	}
	if s.deps.Redis != nil && !s.embedded {
		// A shared index dedupes by event id across processes; an embedded
		// one must apply every event itself (versions make replays harmless).
		cfg.Dedupe = kafka.NewRedisDeduper(s.deps.Redis, s.deps.KeyPrefix, Name, 0)
	}
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		return err
	}
	s.consumer = c
	return nil
}
