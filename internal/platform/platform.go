// Package platform builds Careslot's services into a process: what they share
// (configuration, catalogue, token verifier, Redis client, Kafka producer),
// each subgraph from it (Build), its HTTP server, health, metrics and outbox
// relay (Run), and the whole stack with the router (RunStack). It is the one
// package of internal/ that imports the subgraphs; cmd/careslot parses flags
// and calls it.
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/internal/httpserver"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/subgraphs/booking"
)

// Platform is what every service shares in one process. Make it with Start
// (or New, without tracing; a command that serves nothing fills the
// fields it needs) and Close it once every user stopped.
type Platform struct {
	Config    config.Config
	Logger    *slog.Logger
	Countries *countries.Catalog
	Verifier  auth.Verifier
	producer  *kgo.Client
	rdb       redis.UniversalClient
	// Tracing: spans are exported (OTEL_EXPORTER_OTLP_ENDPOINT); HTTP requests get server spans.
	Tracing     bool
	stopTracing func(context.Context) error // set by Start; Close calls it last
	closers     []func()
}

// Redis returns the process's shared Redis client (a cluster client when
// REDIS_CLUSTER_ADDRS is set).
func (p *Platform) Redis() (redis.UniversalClient, error) {
	if p.rdb != nil {
		return p.rdb, nil
	}
	rdb, err := redisconn.Open(p.Config.RedisURL, p.Config.RedisClusterAddrs)
	if err != nil {
		return nil, err
	}
	if p.Tracing {
		// A client span per command and pipeline, in the request's or the consumer's trace.
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false)); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	p.rdb = rdb
	p.closers = append(p.closers, func() { _ = p.rdb.Close() }, redisconn.Instrument("platform", rdb))
	return p.rdb, nil
}

// New loads the country catalogue and the token verifier (JWKS) of cfg.
func New(ctx context.Context, cfg config.Config) (*Platform, error) {
	logger := telemetry.NewLogger(os.Stderr)
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewJWKSVerifier(ctx, cfg.JWKSURL, cfg.OIDCIssuer, cfg.OIDCAudience)
	if err != nil {
		return nil, err
	}
	return &Platform{Config: cfg, Logger: logger, Countries: cat, Verifier: verifier}, nil
}

// Start sets up tracing for the process (spans exported when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, under ServiceName(name), with query
// spans from PostgreSQL) and then the platform; Close ends both.
func Start(ctx context.Context, cfg config.Config, name string) (*Platform, error) {
	tracing, stop, err := telemetry.SetupTracing(ctx, cfg.OTLPEndpoint, ServiceName(name))
	if err != nil {
		return nil, err
	}
	if tracing {
		postgres.TraceQueries()
	}
	p, err := New(ctx, cfg)
	if err != nil {
		flushTraces(stop)
		return nil, err
	}
	p.Tracing, p.stopTracing = tracing, stop
	return p, nil
}

// flushTraces stops the tracer, giving its last spans a few seconds to leave.
func flushTraces(stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = stop(ctx)
}

// KafkaProducer returns the process's shared idempotent producer.
func (p *Platform) KafkaProducer(ctx context.Context) (*kgo.Client, error) {
	if p.producer != nil {
		return p.producer, nil
	}
	if err := kafka.EnsureTopics(ctx, p.Config.KafkaBrokers, p.Config.KafkaTopicPrefix); err != nil {
		return nil, err
	}
	cl, err := kafka.NewClient(p.Config.KafkaBrokers)
	if err != nil {
		return nil, err
	}
	p.producer = cl
	return cl, nil
}

// Close releases what the platform opened, newest first, once every user stopped.
func (p *Platform) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.producer != nil {
		p.producer.Close()
	}
	if p.stopTracing != nil {
		flushTraces(p.stopTracing)
	}
}

// OpenStore opens a pool on the service's database once its schema is the
// one this build was made for (migrations and the catalogue's country
// partitions); it changes nothing: `careslot migrate` does.
func (p *Platform) OpenStore(ctx context.Context, service string) (*pgxpool.Pool, error) {
	pool, err := postgres.Connect(ctx, p.Config.DatabaseURLs[service])
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", service, err)
	}
	err = postgres.CheckSchema(ctx, pool, service)
	if part, ok := Partitioned[service]; ok && err == nil {
		err = postgres.CheckCountryPartitions(ctx, pool, service, part.Tables, p.Countries.Codes())
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	p.closers = append(p.closers, pool.Close, postgres.Instrument(pool))
	return pool, nil
}

// serviceReady is /readyz (ADR 0016): nil only when the service can serve
// every operation: it can verify tokens (signing keys loaded), its pool
// answers, and its own parts are ready (consumers caught up with what their
// topics held at start, index or replicas warm, Redis answering).
func (p *Platform) serviceReady(ctx context.Context, s *Service) error {
	if keys, ok := p.Verifier.(interface{ Ready(context.Context) error }); ok {
		if err := keys.Ready(ctx); err != nil {
			return err
		}
	}
	if s.Pool != nil {
		if err := postgres.Ready(ctx, s.Pool); err != nil {
			return err
		}
	}
	if s.Ready != nil {
		return s.Ready(ctx)
	}
	return nil
}

// Service is one subgraph with its background work.
type Service struct {
	Name    string
	Handler http.Handler
	Pool    *pgxpool.Pool
	// routes are internal endpoints beside /graphql (e.g. the GDPR export).
	Routes map[string]http.Handler
	// ready reports whether the service's own parts are ready (consumers
	// caught up, index warm, Redis answering); the platform adds the signing
	// keys and the pool (see serviceReady).
	Ready   func(ctx context.Context) error
	Workers []func(ctx context.Context) error
}

// Run serves the subgraph, its health and metrics endpoints, and its workers
// (the outbox relay first) until ctx ends.
func (p *Platform) Run(ctx context.Context, g *errgroup.Group, s *Service) error {
	mux := http.NewServeMux()
	mux.Handle("/graphql", gqlserver.Instrument(s.Name, s.Handler))
	for path, h := range s.Routes {
		mux.Handle(path, h)
	}
	// On SIGTERM /readyz fails first; the server keeps serving for the
	// drain, until the load balancer noticed, then finishes what is in flight.
	serveCtx, draining := httpserver.Draining(ctx, p.Config.ShutdownDrain)
	httpserver.Health(mux, func(ctx context.Context) error {
		if draining() {
			return httpserver.ErrShuttingDown
		}
		return p.serviceReady(ctx, s)
	})
	logger := p.Logger.With("service", s.Name)
	addr := p.Config.SubgraphAddrs[s.Name]
	var h http.Handler = mux
	if p.Tracing {
		// A server span per request, continuing the router's trace (W3C traceparent).
		h = otelhttp.NewHandler(mux, s.Name, otelhttp.WithSpanNameFormatter(func(service string, r *http.Request) string {
			return service + " " + r.Method + " " + r.URL.Path
		}), otelhttp.WithFilter(func(r *http.Request) bool {
			return !strings.HasPrefix(r.URL.Path, booking.CalendarRoute) // a feed's path is its secret: kept out of traces
		}))
	}
	g.Go(func() error { return httpserver.Serve(serveCtx, addr, h, logger) })
	if m := p.Config.MetricsAddrs[s.Name]; m != "" {
		g.Go(func() error { return httpserver.Serve(serveCtx, m, httpserver.Metrics(), logger) })
	}
	if s.Pool != nil {
		producer, err := p.KafkaProducer(ctx)
		if err != nil {
			return err
		}
		relay := outbox.NewRelay(s.Pool, producer, p.Config.KafkaTopicPrefix, logger)
		g.Go(func() error { return relay.Run(ctx) })
	}
	for _, w := range s.Workers {
		g.Go(func() error { return w(ctx) })
	}
	logger.Info("subgraph listening", "addr", "http://"+addr+"/graphql")
	return nil
}
