// Package router runs Careslot's edge: the Cosmo router, embedded as a library. It serves the
// federated graph at /graphql over HTTP and WebSocket (graphql-transport-ws), validates bearer
// JWTs against a JWKS, propagates the Authorization header to every subgraph and passes subgraph
// errors (with extensions.code) through to clients. Beside /graphql it passes a few plain HTTP paths
// through to the subgraph that serves them (DefaultRoutes: booking's calendar feeds), so clients
// use one origin. Its static settings are router-config/router.yaml
// (embedded); the composed execution configuration is router-config/config.json.
package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/goccy/go-yaml"
	"github.com/redis/go-redis/v9"
	"github.com/wundergraph/cosmo/router/core"
	"github.com/wundergraph/cosmo/router/pkg/config"
	"github.com/wundergraph/cosmo/router/pkg/execution_config"
	"github.com/wundergraph/cosmo/router/pkg/otel/otelconfig"

	"github.com/careslot/careslot/internal/auth"
	careslotconfig "github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/internal/router/edge"
	routerconfig "github.com/careslot/careslot/router-config"
)

// Options configures Run.
type Options struct {
	// ListenAddr is the router's HTTP address, e.g. 127.0.0.1:4000. Required.
	ListenAddr string
	// ExecutionConfigPath is the composed execution configuration (router-config/config.json).
	// Required.
	ExecutionConfigPath string
	// JWKSURL is the JWKS that bearer tokens are validated against. Requests without a token pass
	// as anonymous; requests with an invalid token get 401. When empty, the router does not look
	// at tokens at all (it still propagates them) and logs a warning.
	JWKSURL string
	// JWTAudience, when set, is the audience tokens must carry.
	JWTAudience string
	// SubgraphURLs maps a subgraph name to the http URL that replaces its routing_url; the
	// subscription URL becomes the same URL with the ws(s) scheme. Every name must be a subgraph
	// of the execution configuration.
	SubgraphURLs map[string]string
	// Logger receives the router's logs; slog.Default() when nil.
	Logger *slog.Logger
	// DevMode turns on the router's development mode: the GraphQL playground at /, introspection,
	// error locations, human-readable planner output. Off in production.
	DevMode bool
	// MetricsListenAddr, when set, serves Prometheus metrics at http://MetricsListenAddr/metrics.
	// Off when empty.
	MetricsListenAddr string
	// TracingEndpoint, when set, is the OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT) the
	// router exports its spans to, propagating W3C trace context to the subgraphs. Empty: no
	// tracing (the router's own default would export to the vendor's cloud).
	TracingEndpoint string
	// ServiceName names the router in traces (default careslot-router).
	ServiceName string
	// Ready, when set, is called once the router serves requests.
	Ready func()
	// StartTimeout bounds the wait for the JWKS and for the router to become ready; 30 s when
	// zero.
	StartTimeout time.Duration

	// Edge are the edge controls (rate limits, trusted proxies, WebSocket limits); nil means
	// router-config/edge.yaml as committed (edge.DefaultSettings).
	Edge *edge.Settings
	// Redis holds the edge's budgets and WebSocket connection counts, shared by every router
	// replica; nil turns them off. The caller owns it.
	Redis redis.UniversalClient
	// RedisPrefix starts the edge's Redis keys.
	RedisPrefix string
	// JWTIssuer, with JWKSURL and JWTAudience, lets the edge verify the tokens WebSocket clients
	// send in connection_init; without it WebSocket callers are counted per client address.
	JWTIssuer string
	// Routes are plain HTTP paths passed through to a subgraph's own listener: path prefix →
	// subgraph name. nil means DefaultRoutes; an empty map, none.
	Routes map[string]string
}

const (
	defaultStartTimeout = 30 * time.Second
	shutdownTimeout     = 20 * time.Second
)

// Run starts the router and blocks until ctx is done, then shuts it down gracefully (in-flight
// requests and subscriptions get the configured grace period). It returns an error when the router
// cannot start (bad options or settings, listen address in use, unreadable execution
// configuration, JWKS unreachable for StartTimeout at start-up), or when shutdown fails.
// Cancelling ctx while the router starts is not an error. Building the router sets GOMAXPROCS
// from the cgroup CPU quota and, unless GOMEMLIMIT is set, a memory limit of 90% of the cgroup's
// memory: both are process-wide.
func Run(ctx context.Context, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cfg, err := Settings(opts)
	if err != nil {
		return err
	}
	startTimeout := opts.StartTimeout
	if startTimeout <= 0 {
		startTimeout = defaultStartTimeout
	}
	disableUsageTracking()

	// The router fetches the JWKS once while it is built and fails after about 15 s if it cannot;
	// wait for it here instead, so the router can start alongside the service that serves it.
	if opts.JWKSURL != "" {
		if err := waitJWKS(ctx, opts.JWKSURL, startTimeout); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("router: listen %s: %w", cfg.ListenAddr, err)
	}
	defer ln.Close() // when the server did not take it over

	// The router's background work (JWKS refresh, watchers) ends with routerCtx, which outlives
	// ctx until the graceful shutdown is over.
	routerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	edgeControls, edgeKeys, err := newEdge(routerCtx, opts, logger)
	if err != nil {
		return err
	}
	defer edgeControls.Close()
	passThrough, err := routes(opts, edgeControls, logger)
	if err != nil {
		return err
	}

	zapLogger := newZapLogger(logger.Handler())
	authOption, err := useEdgeAuthenticators(routerCtx, zapLogger, cfg)
	if err != nil {
		return fmt.Errorf("router: authentication: %w", err)
	}
	r, err := core.DefaultRouterFactory(routerCtx, &core.RouterResources{
		Config: cfg,
		Logger: zapLogger,
	})
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if authOption != nil {
		authOption(r)
	}
	// Options apply to a built router until it bootstraps: the edge's module joins the router's.
	core.WithCustomModules(edgeControls.Modules()...)(r)
	served := false
	shutdown := func() (err error) {
		// Shutdown after a failed start can dereference parts the start never made. After a
		// successful one it still ends by closing the usage tracker, which only Router.Start makes
		// (never used here: usage tracking is off): by then the servers, subscriptions and
		// listeners are shut.
		defer func() {
			if p := recover(); p != nil && !served {
				err = fmt.Errorf("router: shutdown after failed start: %v", p)
			}
		}()
		sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer scancel()
		return r.Shutdown(sctx)
	}
	// Bootstrapped by hand rather than by r.Start, so that the edge's handler wraps the router's
	// HTTP server and sees each request (and its peer address) first.
	srv, err := r.NewServer(routerCtx)
	if err != nil {
		return errors.Join(fmt.Errorf("router: start: %w", err), shutdown())
	}
	hs := srv.HttpServer()
	hs.Handler = withRoutes(edgeControls.Handler(hs.Handler), passThrough)
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("router: serve", "error", err)
		}
	}()
	served = true
	// Ready only once the edge can verify the tokens of WebSocket clients too.
	if edgeKeys != nil {
		if err := waitKeys(ctx, edgeKeys, startTimeout); err != nil {
			if ctx.Err() != nil {
				return shutdown()
			}
			return errors.Join(err, shutdown())
		}
	}
	srv.HealthChecks().SetReady(true)
	if err := waitReady(ctx, cfg.ListenAddr, cfg.ReadinessCheckPath, startTimeout); err != nil {
		if ctx.Err() != nil { // cancelled while starting: not a failure
			return shutdown()
		}
		return errors.Join(err, shutdown())
	}
	logger.Info("router ready", "addr", cfg.ListenAddr, "graphql_path", cfg.GraphQLPath)
	if opts.Ready != nil {
		opts.Ready()
	}

	<-ctx.Done()
	logger.Info("router shutting down")
	if err := shutdown(); err != nil {
		return fmt.Errorf("router: shutdown: %w", err)
	}
	return nil
}

// newEdge builds the edge controls of opts, and returns the verifier they use, if any.
func newEdge(ctx context.Context, opts Options, logger *slog.Logger) (*edge.Edge, *auth.JWKSVerifier, error) {
	var settings edge.Settings
	if opts.Edge != nil {
		settings = *opts.Edge
	} else {
		var err error
		if settings, err = edge.DefaultSettings(); err != nil {
			return nil, nil, fmt.Errorf("router: %w", err)
		}
	}
	var (
		verifier auth.Verifier
		keys     *auth.JWKSVerifier
	)
	if opts.JWKSURL != "" && opts.JWTIssuer != "" && opts.JWTAudience != "" {
		v, err := auth.NewJWKSVerifier(ctx, opts.JWKSURL, opts.JWTIssuer, opts.JWTAudience)
		if err != nil {
			return nil, nil, fmt.Errorf("router: %w", err)
		}
		verifier, keys = v, v
	}
	e, err := edge.New(edge.Config{
		Settings:      settings,
		Redis:         opts.Redis,
		KeyPrefix:     opts.RedisPrefix + "edge:",
		Verifier:      verifier,
		Introspection: opts.DevMode,
		Logger:        logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("router: %w", err)
	}
	return e, keys, nil
}

// Settings returns the router configuration Run uses: router-config/router.yaml over the
// router's built-in defaults (the process environment is not consulted), with opts applied and
// every setting that would reach beyond this machine switched off.
func Settings(opts Options) (*config.Config, error) {
	if opts.ListenAddr == "" {
		return nil, errors.New("router: no listen address")
	}
	if opts.ExecutionConfigPath == "" {
		return nil, errors.New("router: no execution configuration path")
	}
	known, err := subgraphNames(opts.ExecutionConfigPath)
	if err != nil {
		return nil, err
	}
	cfg, err := staticSettings(routerconfig.RouterYAML)
	if err != nil {
		return nil, err
	}

	cfg.ListenAddr = opts.ListenAddr
	cfg.ExecutionConfig = config.ExecutionConfig{File: config.ExecutionConfigFile{Path: opts.ExecutionConfigPath}}
	cfg.RouterConfigPath = ""

	if opts.JWKSURL != "" {
		if err := careslotconfig.CheckURL(opts.JWKSURL, "http", "https"); err != nil {
			return nil, fmt.Errorf("router: JWKS URL: %w", err)
		}
		jwks := config.JWKSConfiguration{
			URL:             opts.JWKSURL,
			RefreshInterval: time.Minute,
			RefreshUnknownKID: config.RefreshUnknownKID{
				Enabled: true, MaxWait: 2 * time.Second, Interval: 30 * time.Second, Burst: 2,
			},
		}
		if opts.JWTAudience != "" {
			jwks.Audiences = []string{opts.JWTAudience}
		}
		cfg.Authentication.JWT.JWKS = []config.JWKSConfiguration{jwks}
		if cfg.Authentication.JWT.HeaderName == "" {
			cfg.Authentication.JWT.HeaderName = "Authorization"
		}
		if cfg.Authentication.JWT.HeaderValuePrefix == "" {
			cfg.Authentication.JWT.HeaderValuePrefix = "Bearer"
		}
	} else {
		cfg.Authentication.JWT.JWKS = nil
		if opts.Logger != nil {
			opts.Logger.Warn("router: no JWKS URL; bearer tokens are not validated at the edge")
		}
	}

	if len(opts.SubgraphURLs) > 0 {
		cfg.Overrides.Subgraphs = make(map[string]config.SubgraphOverridesConfiguration, len(opts.SubgraphURLs))
		for name, u := range opts.SubgraphURLs {
			if !known[name] {
				return nil, fmt.Errorf("router: subgraph URL for %q: no such subgraph in %s (have %s)", name, opts.ExecutionConfigPath, joinKeys(known))
			}
			if err := careslotconfig.CheckURL(u, "http", "https"); err != nil {
				return nil, fmt.Errorf("router: subgraph %q URL: %w", name, err)
			}
			cfg.Overrides.Subgraphs[name] = config.SubgraphOverridesConfiguration{
				RoutingURL:                       u,
				SubscriptionURL:                  careslotconfig.WebSocketURL(u),
				SubscriptionProtocol:             "ws",
				SubscriptionWebsocketSubprotocol: "graphql-transport-ws",
			}
		}
	}

	// playground_enabled is deprecated (false only logs a warning); playground.enabled decides.
	cfg.PlaygroundEnabled = true
	if opts.DevMode {
		cfg.DevelopmentMode = true
		cfg.PlaygroundConfig.Enabled = true
		cfg.IntrospectionEnabled = true
		cfg.SubgraphErrorPropagation.OmitLocations = false
	} else {
		cfg.DevelopmentMode = false
		cfg.PlaygroundConfig.Enabled = false
		cfg.IntrospectionEnabled = false
	}

	prom := &cfg.Telemetry.Metrics.Prometheus
	prom.Enabled = opts.MetricsListenAddr != ""
	if prom.Enabled {
		prom.ListenAddr = opts.MetricsListenAddr
		if prom.Path == "" {
			prom.Path = "/metrics"
		}
	}

	// Nothing leaves the machine, whatever router.yaml says.
	cfg.RouterRegistration = false
	cfg.Graph = config.Graph{}
	cfg.ControlplaneURL = ""
	cfg.GraphqlMetrics = config.GraphqlMetrics{Enabled: false}
	cfg.Telemetry.Tracing.Enabled = false
	cfg.Telemetry.Tracing.Exporters = nil
	if opts.TracingEndpoint != "" {
		if err := careslotconfig.CheckURL(opts.TracingEndpoint, "http", "https"); err != nil {
			return nil, fmt.Errorf("router: OTLP endpoint: %w", err)
		}
		// One explicit exporter: with none the router exports to the vendor's cloud.
		tr := &cfg.Telemetry.Tracing
		tr.Enabled = true
		tr.Exporters = []config.TracingExporter{{
			Exporter: otelconfig.ExporterOLTPHTTP,
			Endpoint: strings.TrimSuffix(opts.TracingEndpoint, "/"),
			HTTPPath: "/v1/traces",
			TracingExporterConfig: config.TracingExporterConfig{
				BatchTimeout: time.Second, ExportTimeout: 10 * time.Second,
			},
		}}
		tr.Propagation = config.PropagationConfig{TraceContext: true}
		cfg.Telemetry.ServiceName = opts.ServiceName
		if cfg.Telemetry.ServiceName == "" {
			cfg.Telemetry.ServiceName = "careslot-router"
		}
	}
	cfg.Telemetry.Metrics.OTLP.Enabled = false
	cfg.Telemetry.Metrics.OTLP.Exporters = nil
	cfg.CacheWarmup.Enabled = false
	cfg.Plugins.Enabled = false
	cfg.MCP.Enabled = false
	cfg.WatchConfig.Enabled = false
	// The router never lets a subgraph's status code or an empty path through otherwise.
	cfg.SubgraphErrorPropagation.Enabled = true
	return cfg, nil
}

// staticSettings parses router.yaml over the router's defaults, validating it against the
// router's own JSON schema. It mirrors config.LoadConfig without reading the process environment
// or a file.
func staticSettings(raw []byte) (*config.Config, error) {
	var cfg config.Config
	// Defaults from the config struct's envDefault tags, with an empty environment.
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{}}); err != nil {
		return nil, fmt.Errorf("router: default settings: %w", err)
	}
	// Parse first: config.ValidateConfig calls log.Fatal on YAML it cannot parse.
	var probe config.Config
	if err := yaml.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("router: router.yaml: %w", err)
	}
	if err := config.ValidateConfig(raw, config.JSONSchema); err != nil {
		return nil, fmt.Errorf("router: router.yaml: %w", err)
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("router: router.yaml: %w", err)
	}
	return &cfg, nil
}

func subgraphNames(path string) (map[string]bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("router: execution configuration: %w", err)
	}
	rc, err := execution_config.UnmarshalConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("router: execution configuration %s: %w", path, err)
	}
	names := make(map[string]bool, len(rc.GetSubgraphs()))
	for _, sg := range rc.GetSubgraphs() {
		names[sg.GetName()] = true
	}
	return names, nil
}

func joinKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

var disableTracking sync.Once

// disableUsageTracking turns off the router's anonymous usage reporting, which it sends to the
// vendor unless COSMO_TELEMETRY_DISABLED is set (the library option for it is not reachable
// through core.DefaultRouterFactory).
func disableUsageTracking() {
	disableTracking.Do(func() {
		_ = os.Setenv("COSMO_TELEMETRY_DISABLED", "true")
	})
}

// waitJWKS polls the JWKS URL until it answers 200.
func waitJWKS(ctx context.Context, jwksURL string, timeout time.Duration) error {
	client := httpclient.New(2 * time.Second)
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
		if err != nil {
			return fmt.Errorf("router: JWKS URL: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router: JWKS %s not reachable after %s: %w", jwksURL, timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitKeys waits until v has loaded its signing keys (fetched in the background).
func waitKeys(ctx context.Context, v *auth.JWKSVerifier, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-v.Loaded():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("router: signing keys not loaded after %s: %w", timeout, v.Ready(ctx))
	}
}

// waitReady polls the router's readiness endpoint until it answers 200.
func waitReady(ctx context.Context, listenAddr, path string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("router: listen address %q: %w", listenAddr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if path == "" {
		path = "/health/ready"
	}
	target := "http://" + net.JoinHostPort(host, port) + path
	client := httpclient.New(time.Second)
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return fmt.Errorf("router: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("router: cancelled before ready: %w", ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router: not ready after %s (last error: %v)", timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
