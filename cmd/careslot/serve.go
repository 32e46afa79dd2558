package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/shutdown"
	"github.com/careslot/careslot/internal/telemetry"
)

func init() {
	register("serve", "run one subgraph: careslot serve <service>", cmdServe)
	register("router", "run the federation router", cmdRouter)
}

func cmdServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: careslot serve <service> (one of %v)", enabledServices())
	}
	cfg := config.FromEnv()
	if len(cfg.KafkaBrokers) == 0 {
		return fmt.Errorf("KAFKA_BROKERS is required for `serve` (only `dev` embeds a broker)")
	}
	// Registered first so it runs last: the whole stop, tracing flush included.
	defer shutdown.Bound(ctx, cfg.ShutdownDrain+cfg.ShutdownTimeout, telemetry.NewLogger(os.Stderr).With("service", fs.Arg(0)))()
	tracing, stopTracing, err := telemetry.SetupTracing(ctx, cfg.OTLPEndpoint, serviceName("careslot-"+fs.Arg(0)))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx)
	}()
	if tracing {
		postgres.TraceQueries()
	}
	p, err := newPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	p.tracing = tracing
	defer p.close()
	s, err := buildService(ctx, p, fs.Arg(0))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if err := p.run(gctx, g, s); err != nil {
		if gctx.Err() != nil && ctx.Err() == nil {
			// Something run had started failed first (its address in use,
			// say) and cancelled the rest: report that, not the cancellation.
			if werr := g.Wait(); werr != nil {
				return werr
			}
		}
		return err
	}
	return g.Wait()
}

func cmdRouter(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("router", flag.ExitOnError)
	execConfig := fs.String("config", filepath.Join("router-config", "config.json"), "composed execution configuration")
	dev := fs.Bool("dev", false, "development mode (playground, introspection)")
	_ = fs.Parse(args)
	cfg := config.FromEnv()
	defer shutdown.Bound(ctx, cfg.ShutdownDrain+cfg.ShutdownTimeout, telemetry.NewLogger(os.Stderr).With("component", "router"))()
	p, err := newPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	opts, err := routerOptions(p, *execConfig, *dev)
	if err != nil {
		return err
	}
	return router.Run(ctx, opts)
}

// serviceName is OTEL_SERVICE_NAME, or def.
func serviceName(def string) string {
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		return v
	}
	return def
}

func routerOptions(p *platform, execConfig string, dev bool) (router.Options, error) {
	// The router reaches each subgraph where other services do (in a cluster, its Service).
	urls := map[string]string{}
	for _, name := range enabledServices() {
		urls[name] = p.cfg.InternalURLs[name] + "/graphql"
	}
	// The edge's limits: router-config/edge.yaml, ROUTER_* variables over it.
	limits, err := edge.SettingsFromEnv()
	if err != nil {
		return router.Options{}, err
	}
	rdb, err := p.redis()
	if err != nil {
		return router.Options{}, err
	}
	return router.Options{
		ListenAddr:          p.cfg.RouterAddr,
		ExecutionConfigPath: execConfig,
		JWKSURL:             p.cfg.JWKSURL,
		JWTIssuer:           p.cfg.OIDCIssuer,
		JWTAudience:         p.cfg.OIDCAudience,
		SubgraphURLs:        urls,
		Logger:              p.logger.With("component", "router"),
		DevMode:             dev,
		MetricsListenAddr:   p.cfg.RouterMetricsAddr,
		TracingEndpoint:     p.cfg.OTLPEndpoint,
		ServiceName:         os.Getenv("OTEL_SERVICE_NAME"),
		Edge:                &limits,
		Redis:               rdb,
		RedisPrefix:         p.cfg.RedisPrefix,
	}, nil
}
