// Package notification is the notification subgraph: the messages Careslot
// sends patients about their appointments — confirmations, moves,
// cancellations and reminders, by email and SMS — and Patient.notifications.
// It consumes booking-events (what to say), patient-events (to whom, in which
// language, on which channels; erasure) and practitioner-events (names,
// addresses and zones).
package notification

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/graph"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "notification"

// ExportPath is where the service answers GDPR export requests (internal
// listener, patient bearer token).
const ExportPath = export.PersonalDataPath

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Pool      *pgxpool.Pool
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
	// KafkaBrokers are the brokers the consumers read from; without them the
	// subgraph runs no consumers (only the sender).
	KafkaBrokers []string
	// TopicPrefix prefixes topic names (tests, environments).
	TopicPrefix string
	// Sender delivers messages; nil: the log sender (messages are recorded in
	// the store, where patients read them, and logged). See sender.NewAWS.
	Sender sender.Sender
	// SendInterval is how often the sender looks for due messages at least
	// (default 5 s); new messages wake it at once.
	SendInterval time.Duration
	// Options tune retries and batching (tests); Logger, Sender and the
	// clock default as above.
	Options business.Options
}

// Subgraph is a ready notification service.
type Subgraph struct {
	Service   *business.Service
	resolver  *graph.Resolver
	deps      Deps
	consumers []*kafka.Consumer // see Workers
}

// New builds the subgraph.
func New(_ context.Context, deps Deps) (*Subgraph, error) {
	if deps.Pool == nil || deps.Countries == nil {
		return nil, errors.New("notification: a pool and the country catalogue are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	opts := deps.Options
	opts.Logger = deps.Logger.With("service", Name)
	if deps.Sender != nil {
		opts.Sender = deps.Sender
	}
	svc := business.New(store.New(deps.Pool), deps.Countries, opts)
	sg := &Subgraph{Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps}
	if err := sg.newConsumers(); err != nil {
		return nil, err
	}
	return sg, nil
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{Logger: s.deps.Logger, Verifier: s.deps.Verifier})
}

// ExportHandler serves GET /internal/export: everything the service holds
// about the patient whose bearer token comes with the request (the patient
// service forwards the caller's), as one JSON document.
func (s *Subgraph) ExportHandler() http.Handler {
	return export.PersonalData(s.deps.Verifier, func(ctx context.Context, _ string) (any, error) {
		return s.Service.ExportMine(ctx)
	}, s.deps.Logger)
}

// Workers are the subgraph's background loops, each running until its
// context ends: the sender of due messages and, with brokers, the
// booking-events, patient-events and practitioner-events consumers.
func (s *Subgraph) Workers() []func(context.Context) error {
	workers := []func(context.Context) error{
		func(ctx context.Context) error { return s.Service.RunSender(ctx, s.deps.SendInterval) },
	}
	if len(s.deps.KafkaBrokers) == 0 {
		s.deps.Logger.Warn("notification: no Kafka brokers; no events will be consumed")
		return workers
	}
	for _, c := range s.consumers {
		workers = append(workers, c.Run)
	}
	return workers
}

// newConsumers makes (without starting) the booking-events, patient-events
// and practitioner-events consumers of Workers.
func (s *Subgraph) newConsumers() error {
	if len(s.deps.KafkaBrokers) == 0 {
		return nil
	}
	var err error
	s.consumers, err = kafka.NewConsumers(s.deps.KafkaBrokers, s.deps.TopicPrefix, s.deps.Logger,
		kafka.Subscription{Group: business.BookingGroup, Topic: events.BookingEvents, Handler: s.Service.ApplyBookingEvent},
		kafka.Subscription{Group: business.PatientGroup, Topic: events.PatientEvents, Handler: s.Service.ApplyPatientEvent},
		kafka.Subscription{Group: business.PractitionerGroup, Topic: events.PractitionerEvents, Handler: s.Service.ApplyPractitionerEvent,
			KeyLanes: kafka.ReplicaKeyLanes},
	)
	return err
}

// CaughtUp returns nil once every consumer of Workers has processed what its
// topic held when it started (a readiness check).
func (s *Subgraph) CaughtUp(context.Context) error { return kafka.CaughtUp(s.consumers...) }
