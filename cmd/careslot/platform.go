package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

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

// platform is what every service shares in one process.
type platform struct {
	cfg       config.Config
	logger    *slog.Logger
	countries *countries.Catalog
	verifier  auth.Verifier
	producer  *kgo.Client
	rdb       redis.UniversalClient
	// tracing: spans are exported (OTEL_EXPORTER_OTLP_ENDPOINT); HTTP requests get server spans.
	tracing bool
	closers []func()
}

// redis returns the process's shared Redis client (a cluster client when
// REDIS_CLUSTER_ADDRS is set).
func (p *platform) redis() (redis.UniversalClient, error) {
	if p.rdb != nil {
		return p.rdb, nil
	}
	rdb, err := redisconn.Open(p.cfg.RedisURL, p.cfg.RedisClusterAddrs)
	if err != nil {
		return nil, err
	}
	if p.tracing {
		// A client span per command and pipeline, in the request's or the consumer's trace.
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false)); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	p.rdb = rdb
	p.closers = append(p.closers, func() { _ = p.rdb.Close() }, redisconn.Instrument("platform", rdb))
	return p.rdb, nil
}

func newPlatform(ctx context.Context, cfg config.Config) (*platform, error) {
	logger := telemetry.NewLogger(os.Stderr)
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewJWKSVerifier(ctx, cfg.JWKSURL, cfg.OIDCIssuer, cfg.OIDCAudience)
	if err != nil {
		return nil, err
	}
	return &platform{cfg: cfg, logger: logger, countries: cat, verifier: verifier}, nil
}

// kafkaProducer returns the process's shared idempotent producer.
func (p *platform) kafkaProducer(ctx context.Context) (*kgo.Client, error) {
	if p.producer != nil {
		return p.producer, nil
	}
	if err := kafka.EnsureTopics(ctx, p.cfg.KafkaBrokers, p.cfg.KafkaTopicPrefix); err != nil {
		return nil, err
	}
	cl, err := kafka.NewClient(p.cfg.KafkaBrokers)
	if err != nil {
		return nil, err
	}
	p.producer = cl
	return cl, nil
}

// close releases what the platform opened, newest first, once every user stopped.
func (p *platform) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.producer != nil {
		p.producer.Close()
	}
}

// openStore opens a pool on the service's database once its schema is the
// one this build was made for (migrations and the catalogue's country
// partitions); it changes nothing: `careslot migrate` does.
func (p *platform) openStore(ctx context.Context, service string) (*pgxpool.Pool, error) {
	pool, err := postgres.Connect(ctx, p.cfg.DatabaseURLs[service])
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", service, err)
	}
	err = postgres.CheckSchema(ctx, pool, service)
	if part, ok := partitioned[service]; ok && err == nil {
		err = postgres.CheckCountryPartitions(ctx, pool, service, part.tables, p.countries.Codes())
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
func (p *platform) serviceReady(ctx context.Context, s *runningService) error {
	if keys, ok := p.verifier.(interface{ Ready(context.Context) error }); ok {
		if err := keys.Ready(ctx); err != nil {
			return err
		}
	}
	if s.pool != nil {
		if err := postgres.Ready(ctx, s.pool); err != nil {
			return err
		}
	}
	if s.ready != nil {
		return s.ready(ctx)
	}
	return nil
}

// runningService is one subgraph with its background work.
type runningService struct {
	name    string
	handler http.Handler
	pool    *pgxpool.Pool
	// routes are internal endpoints beside /graphql (e.g. the GDPR export).
	routes map[string]http.Handler
	// ready reports whether the service's own parts are ready (consumers
	// caught up, index warm, Redis answering); the platform adds the signing
	// keys and the pool (see serviceReady).
	ready   func(ctx context.Context) error
	workers []func(ctx context.Context) error
}

// run serves the subgraph, its health and metrics endpoints, and its workers
// (the outbox relay first) until ctx ends.
func (p *platform) run(ctx context.Context, g *errgroup.Group, s *runningService) error {
	mux := http.NewServeMux()
	mux.Handle("/graphql", gqlserver.Instrument(s.name, s.handler))
	for path, h := range s.routes {
		mux.Handle(path, h)
	}
	// On SIGTERM /readyz fails first; the server keeps serving for the
	// drain, until the load balancer noticed, then finishes what is in flight.
	serveCtx, draining := httpserver.Draining(ctx, p.cfg.ShutdownDrain)
	httpserver.Health(mux, func(ctx context.Context) error {
		if draining() {
			return httpserver.ErrShuttingDown
		}
		return p.serviceReady(ctx, s)
	})
	logger := p.logger.With("service", s.name)
	addr := p.cfg.SubgraphAddrs[s.name]
	var h http.Handler = mux
	if p.tracing {
		// A server span per request, continuing the router's trace (W3C traceparent).
		h = otelhttp.NewHandler(mux, s.name, otelhttp.WithSpanNameFormatter(func(service string, r *http.Request) string {
			return service + " " + r.Method + " " + r.URL.Path
		}), otelhttp.WithFilter(func(r *http.Request) bool {
			return !strings.HasPrefix(r.URL.Path, booking.CalendarRoute) // a feed's path is its secret: kept out of traces
		}))
	}
	g.Go(func() error { return httpserver.Serve(serveCtx, addr, h, logger) })
	if m := p.cfg.MetricsAddrs[s.name]; m != "" {
		g.Go(func() error { return httpserver.Serve(serveCtx, m, httpserver.Metrics(), logger) })
	}
	if s.pool != nil {
		producer, err := p.kafkaProducer(ctx)
		if err != nil {
			return err
		}
		relay := outbox.NewRelay(s.pool, producer, p.cfg.KafkaTopicPrefix, logger)
		g.Go(func() error { return relay.Run(ctx) })
	}
	for _, w := range s.workers {
		g.Go(func() error { return w(ctx) })
	}
	logger.Info("subgraph listening", "addr", "http://"+addr+"/graphql")
	return nil
}
