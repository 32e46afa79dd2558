// Package booking is the booking subgraph: holds, appointments and their
// lifecycle. PostgreSQL is its only gate against double bookings; it keeps
// local replicas of practitioner schedules and patients by consuming
// practitioner-events and patient-events, and publishes booking-events
// through the outbox.
package booking

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/graph"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "booking"

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Pool      *pgxpool.Pool
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
	// KafkaBrokers are the brokers the replica consumers read from; without
	// them the subgraph runs no consumers (its replicas then stay as they are).
	KafkaBrokers []string
	// TopicPrefix prefixes topic names (tests, environments).
	TopicPrefix string
	// HoldTTL is how long a hold lives (business.DefaultHoldTTL when zero).
	HoldTTL time.Duration
	// SweepInterval is how often the sweeper expires due holds (default:
	// a tenth of HoldTTL, between 100 ms and 5 s).
	SweepInterval time.Duration
	// Redis carries agenda changes to every instance's agendaChanged
	// subscribers (channels {KeyPrefix}agenda-changes:{pid}). Optional:
	// without it agendaChanged answers an error.
	Redis     redis.UniversalClient
	KeyPrefix string
	// PractitionerURL is the practitioner service's internal listener (e.g.
	// "http://127.0.0.1:4001"): a hold, booking or move the schedule replica
	// refuses is checked against the practice there, in case the replica
	// lags (ADR 8). Empty: the replica's answer stands.
	PractitionerURL string
	// PatientURL is the patient service's internal listener: a desk booking
	// naming a desk patient the replica has not learnt yet reads it there
	// (ADR 21). Empty: the replica's answer stands.
	PatientURL string
	// HTTPClient calls them (default: httpclient.New, which carries the
	// trace; each read is bounded by business.DefaultOwnerTimeout).
	HTTPClient *http.Client
}

// Subgraph is a ready booking service.
type Subgraph struct {
	Service  *business.Service
	Live     *business.Live // nil without Redis
	resolver *graph.Resolver
	deps     Deps
	hub      *livehub.Hub
	// consumers keep the replicas (and the live agenda) fed; see Workers.
	consumers []*kafka.Consumer
}

// PartitionedTables are the tables split by country: `careslot migrate`
// creates each served country's partition of them, `serve` checks they exist.
var PartitionedTables = store.PartitionedTables

// EnsurePartitions creates each country's partition of appointments with its
// exclusion constraint (`careslot migrate`: only the migration runs DDL).
func EnsurePartitions(ctx context.Context, pool *pgxpool.Pool, codes []string) error {
	return store.New(pool).EnsurePartitions(ctx, codes)
}

// OccupiedExportPath is where the service exports the occupied ranges, live
// holds and confirmed appointments (internal listener, export.Handler):
// what `careslot rebuild availability` rebuilds the read model from.
const OccupiedExportPath = "/internal/export/occupied"

// OccupiedExportHandler serves OccupiedExportPath, paged and resumable.
func (s *Subgraph) OccupiedExportHandler() http.Handler {
	return export.Handler(s.Service.ExportOccupiedAfter, s.deps.Logger)
}

// New builds the subgraph on a migrated database (see EnsurePartitions).
func New(_ context.Context, deps Deps) (*Subgraph, error) {
	if deps.Pool == nil || deps.Countries == nil {
		return nil, errors.New("booking: a pool and the country catalogue are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	st := store.New(deps.Pool)
	opts := business.Options{HoldTTL: deps.HoldTTL, Logger: deps.Logger}
	client := deps.HTTPClient
	if client == nil {
		client = httpclient.New(0) // each read is bounded by the owner timeout
	}
	if deps.PractitionerURL != "" {
		opts.Owner = practiceOwner{baseURL: deps.PractitionerURL, client: client}
	}
	if deps.PatientURL != "" {
		opts.DeskPatients = deskPatientOwner{baseURL: deps.PatientURL, client: client}
	}
	svc := business.New(st, deps.Countries, opts)
	sg := &Subgraph{Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps}
	if deps.Redis != nil {
		// One Redis pub/sub connection serves every agenda subscriber of this instance.
		sg.hub = livehub.New(deps.Redis, deps.Logger.With("service", Name))
		sg.Live = business.NewLive(svc, deps.Redis, deps.KeyPrefix, sg.hub)
		sg.resolver.Live = sg.Live
	}
	if err := sg.newConsumers(); err != nil {
		return nil, err
	}
	return sg, nil
}

// Close releases the agenda subscribers' Redis connection.
func (s *Subgraph) Close() {
	if s.hub != nil {
		_ = s.hub.Close()
	}
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{Logger: s.deps.Logger, Verifier: s.deps.Verifier})
}

// Workers are the subgraph's background loops, each running until its
// context ends: the practitioner-events and patient-events consumers that
// keep the replicas (when brokers are configured) and the hold sweeper.
func (s *Subgraph) Workers() []func(context.Context) error {
	workers := []func(context.Context) error{
		func(ctx context.Context) error { return s.Service.RunSweeper(ctx, s.sweepInterval()) },
	}
	if len(s.deps.KafkaBrokers) == 0 {
		s.deps.Logger.Warn("booking: no Kafka brokers; practitioner and patient replicas will not be updated")
		return workers
	}
	for _, c := range s.consumers {
		workers = append(workers, c.Run)
	}
	return workers
}

// newConsumers makes (without starting) the consumers of Workers: the
// practitioner-events and patient-events consumers that keep the replicas
// and, with Redis, the one of booking's own events for the live agenda.
func (s *Subgraph) newConsumers() error {
	if len(s.deps.KafkaBrokers) == 0 {
		return nil
	}
	subs := []kafka.Subscription{
		{Group: business.PractitionerGroup, Topic: events.PractitionerEvents, Handler: s.Service.ApplyPractitionerEvent,
			KeyLanes: kafka.ReplicaKeyLanes},
		{Group: business.PatientGroup, Topic: events.PatientEvents, Handler: s.Service.ApplyPatientEvent},
	}
	if s.Live != nil {
		// Booking's own events, once across instances, onto Redis for every
		// instance's agendaChanged subscribers.
		subs = append(subs, kafka.Subscription{Group: business.AgendaGroup, Topic: events.BookingEvents, Handler: s.Live.PublishEvent,
			Dedupe: kafka.NewRedisDeduper(s.deps.Redis, s.deps.KeyPrefix, business.AgendaGroup, 0)})
	}
	var err error
	s.consumers, err = kafka.NewConsumers(s.deps.KafkaBrokers, s.deps.TopicPrefix, s.deps.Logger, subs...)
	return err
}

// CaughtUp returns nil once every consumer of Workers has processed what its
// topic held when it started: the replicas are warm (a readiness check).
func (s *Subgraph) CaughtUp(context.Context) error { return kafka.CaughtUp(s.consumers...) }

func (s *Subgraph) sweepInterval() time.Duration {
	if s.deps.SweepInterval > 0 {
		return s.deps.SweepInterval
	}
	return min(max(s.Service.HoldTTL()/10, 100*time.Millisecond), 5*time.Second)
}
