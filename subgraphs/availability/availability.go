// Package availability is the availability subgraph: a practitioner's open
// slots and next available slot (design §3, §6), served from a Redis read
// model that its workers derive from practitioner-events and booking-events,
// and that Rebuild recomputes from the authoritative stores' exports.
//
// This file is the constructor and the wiring (handler, workers, producer);
// the rules are in business/, every Redis key, script and pipeline in store/.
package availability

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/subgraphs/availability/business"
	"github.com/careslot/careslot/subgraphs/availability/graph"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "availability"

// Consumer groups of the workers.
const (
	PractitionersGroup = "availability.practitioners"
	BookingsGroup      = "availability.bookings"
)

// keyLanes is how many practitioners of one partition the consumers apply at
// once. Applying one event is several Redis round trips and an acknowledged
// produce, little CPU: in order, a partition went at the pace of those round
// trips (bench/profiles/event-path-1-key-lanes-and-json.txt). One
// practitioner's events stay in order; Update's WATCH already guards a
// practitioner against the other group and other replicas.
const keyLanes = 8

// DefaultMaintenanceInterval is how often the maintenance worker looks for
// practitioners due (window roll at local midnight, next slot expiry).
const DefaultMaintenanceInterval = business.DefaultMaintenanceInterval

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Redis redis.UniversalClient
	// KeyPrefix is put before every Redis key and channel (no braces).
	KeyPrefix string
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
	// KafkaBrokers empty: no consumers and no availability-events; changes
	// still go to the Redis channel.
	KafkaBrokers []string
	TopicPrefix  string
	// WindowDays is the number of local days with a stored bitmap (default 28).
	WindowDays int
	// MaintenanceInterval defaults to DefaultMaintenanceInterval.
	MaintenanceInterval time.Duration
	// Now defaults to time.Now (tests pin the clock).
	Now func() time.Time
	// LiveRecheck: see business.Config.LiveRecheck.
	LiveRecheck time.Duration
}

// Subgraph is a ready availability service.
type Subgraph struct {
	Service  *business.Service
	resolver *graph.Resolver
	deps     Deps
	producer *kgo.Client
	hub      *livehub.Hub
	log      *slog.Logger
	// consumers keep the read model fed; see Workers.
	consumers []*kafka.Consumer
}

// New builds the subgraph. With brokers it opens the idempotent producer for
// availability-events (closed by Close).
func New(_ context.Context, deps Deps) (*Subgraph, error) {
	if deps.Redis == nil {
		return nil, errors.New("availability: no redis")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.MaintenanceInterval <= 0 {
		deps.MaintenanceInterval = DefaultMaintenanceInterval
	}
	sg := &Subgraph{deps: deps, log: deps.Logger.With("service", Name)}
	var pub business.Publisher
	if len(deps.KafkaBrokers) > 0 {
		cl, err := kafka.NewClient(deps.KafkaBrokers, kgo.DefaultProduceTopic(kafka.Topic(deps.TopicPrefix, events.AvailabilityEvents)))
		if err != nil {
			return nil, err
		}
		sg.producer = cl
		pub = kafkaPublisher{cl: cl}
	}
	// One Redis pub/sub connection serves every live listing of this instance.
	sg.hub = livehub.New(deps.Redis, sg.log)
	sg.Service = business.New(business.Config{
		Store: store.New(deps.Redis, deps.KeyPrefix), Countries: deps.Countries, WindowDays: deps.WindowDays,
		Publisher: pub, Logger: sg.log, Now: deps.Now, Hub: sg.hub, LiveRecheck: deps.LiveRecheck,
	})
	sg.resolver = &graph.Resolver{Service: sg.Service}
	if len(deps.KafkaBrokers) > 0 {
		consumers, err := kafka.NewConsumers(deps.KafkaBrokers, deps.TopicPrefix, sg.log,
			// No deduper: a practice event carries the practice's version, and
			// ApplyPractitioner passes over one it has (then only republishes
			// a change still pending). Marking each event cost two round trips
			// and a key per practice for 8 days.
			kafka.Subscription{Group: PractitionersGroup, Topic: events.PractitionerEvents, Handler: sg.Service.ApplyPractitionerEvent,
				KeyLanes: keyLanes},
			kafka.Subscription{Group: BookingsGroup, Topic: events.BookingEvents, Handler: sg.Service.ApplyBookingEvent,
				Dedupe: kafka.NewRedisDeduper(deps.Redis, deps.KeyPrefix, BookingsGroup, 0), KeyLanes: keyLanes},
		)
		if err != nil {
			sg.Close()
			return nil, err
		}
		sg.consumers = consumers
	}
	return sg, nil
}

// Close releases the producer and the live listings' Redis connection.
func (s *Subgraph) Close() {
	_ = s.hub.Close()
	if s.producer != nil {
		s.producer.Close()
	}
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint. Every field is public.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{
		Logger:     s.deps.Logger,
		Verifier:   s.deps.Verifier,
		PerRequest: s.resolver.WithLoaders,
	})
}

// LiveStats are the counters of the live listings' hub: subscribers and
// Redis channels subscribed.
func (s *Subgraph) LiveStats() livehub.Stats { return s.hub.Stats() }

// NextSlotsExportPath is where the service exports every practitioner's next
// available slot (internal listener, export.Handler): what search warms its
// index from.
const NextSlotsExportPath = "/internal/export/next-slots"

// NextSlotsExportHandler serves NextSlotsExportPath, paged and resumable.
func (s *Subgraph) NextSlotsExportHandler() http.Handler {
	return export.Handler(s.Service.ExportNextSlots, s.log)
}

// Rebuild recomputes the read model from the authoritative exports (see
// business.Service.Rebuild); `careslot rebuild availability` feeds it.
func (s *Subgraph) Rebuild(ctx context.Context,
	practitioners func(fn func([]eventdata.Practitioner) error) error,
	occupied func(fn func([]eventdata.Appointment) error) error,
) error {
	return s.Service.Rebuild(ctx, practitioners, occupied)
}

// Workers are the subgraph's background loops, each running until ctx ends:
// the practitioner-events and booking-events consumers (with brokers) and
// the maintenance worker.
func (s *Subgraph) Workers() []func(context.Context) error {
	ws := []func(context.Context) error{
		func(ctx context.Context) error { return s.Service.RunMaintenance(ctx, s.deps.MaintenanceInterval) },
	}
	for _, c := range s.consumers {
		ws = append(ws, c.Run)
	}
	return ws
}

// CaughtUp returns nil once every consumer of Workers has processed what its
// topic held when it started: the read model is warm (a readiness check).
func (s *Subgraph) CaughtUp(context.Context) error { return kafka.CaughtUp(s.consumers...) }

// kafkaPublisher sends AvailabilityChanged, keyed by practitioner id.
type kafkaPublisher struct{ cl *kgo.Client }

func (p kafkaPublisher) Publish(ctx context.Context, a eventdata.Availability) error {
	ev, err := events.New(events.Source(Name), eventdata.AvailabilityChanged, a.PractitionerID, a)
	if err != nil {
		return err
	}
	b, err := ev.Encode()
	if err != nil {
		return err
	}
	return p.cl.ProduceSync(ctx, &kgo.Record{Key: []byte(a.PractitionerID), Value: b}).FirstErr()
}
