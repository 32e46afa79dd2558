package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/telemetry"
)

func init() {
	register("dev", "run everything in one process: subgraphs, router, broker, JWKS, demo data", cmdDev)
}

const defaultJWKSURL = "http://127.0.0.1:4010/.well-known/jwks.json"

func cmdDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ExitOnError)
	noDemo := fs.Bool("no-demo", false, "do not create demo data")
	brokerAddr := fs.String("broker", "127.0.0.1:9092", "embedded Kafka broker address (when KAFKA_BROKERS is empty)")
	execConfig := fs.String("config", filepath.Join("router-config", "config.json"), "composed execution configuration")
	serveJWKS := fs.String("serve-jwks", "", "serve the development JWKS on this address (default: on the default OIDC_JWKS_URL's, when that is the URL)")
	_ = fs.Parse(args)

	cfg := config.FromEnv()
	cfg.ShutdownDrain = 0 // one process, no load balancer to wait for
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	if len(cfg.KafkaBrokers) == 0 {
		b, err := kafka.StartBroker(ctx, *brokerAddr, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.KafkaBrokers = b.Addrs()
	}
	// The all-in-one developer command migrates first, as a migration Job
	// would before a rollout; serving only checks the schema.
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return err
	}
	if err := migrateStores(ctx, cfg, cat, telemetry.NewLogger(os.Stderr)); err != nil {
		return err
	}
	key, err := auth.LoadOrCreateDevKey(devKeyPath(cfg))
	if err != nil {
		return err
	}
	jwksAddr := *serveJWKS
	if jwksAddr == "" && cfg.JWKSURL == defaultJWKSURL {
		u, _ := url.Parse(cfg.JWKSURL)
		jwksAddr = u.Host
	}
	err = runDevStack(ctx, cfg, key, jwksAddr, *execConfig, true, func(ctx context.Context, p *platform) {
		routerURL := "http://" + cfg.RouterAddr + "/graphql"
		var demo *demoData
		if !*noDemo {
			var err error
			if demo, err = ensureDemo(ctx, cfg, key, routerURL); err != nil {
				p.logger.Error("demo data", "err", err)
			}
		}
		printWelcome(cfg, key, routerURL, demo)
	})
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "careslot dev: stopped")
		return nil
	}
	return err
}

// runDevStack is `dev` without its flags and banner: it serves the
// development JWKS of key on jwksAddr (when not empty), accepting
// connections before anything that fetches it starts, and runs the stack
// until ctx ends. ready runs once everything is ready (see runStack).
func runDevStack(ctx context.Context, cfg config.Config, key *auth.DevKey, jwksAddr, execConfig string, devMode bool,
	ready func(context.Context, *platform)) error {
	g, gctx := errgroup.WithContext(ctx)
	if jwksAddr != "" {
		ln, err := net.Listen("tcp", jwksAddr)
		if err != nil {
			return fmt.Errorf("development JWKS: %w", err)
		}
		g.Go(func() error { return auth.ServeJWKSOn(gctx, ln, key) })
	}
	g.Go(func() error {
		return runStack(gctx, cfg, execConfig, devMode, func(p *platform) {
			if ready != nil {
				ready(gctx, p)
			}
		})
	})
	return g.Wait()
}

// runStack runs every enabled subgraph and the router in this process until
// ctx ends; ready runs (in its own goroutine) once the router is ready and
// every service's /readyz answers 200 (ADR 0016).
func runStack(ctx context.Context, cfg config.Config, execConfig string, devMode bool, ready func(*platform)) error {
	g, gctx := errgroup.WithContext(ctx)
	tracing, stopTracing, err := telemetry.SetupTracing(ctx, cfg.OTLPEndpoint, serviceName("careslot"))
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
	p, err := newPlatform(gctx, cfg)
	if err != nil {
		return err
	}
	p.tracing = tracing
	defer p.close()
	for _, name := range enabledServices() {
		s, err := buildService(gctx, p, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := p.run(gctx, g, s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	routerReady := make(chan struct{})
	opts, err := routerOptions(p, execConfig, devMode)
	if err != nil {
		return err
	}
	opts.Ready = func() { close(routerReady) }
	g.Go(func() error { return router.Run(gctx, opts) })
	g.Go(func() error {
		select {
		case <-routerReady:
		case <-gctx.Done():
			return nil
		}
		if err := waitServicesReady(gctx, cfg, p.logger); err != nil {
			return nil // stopping
		}
		if ready != nil {
			ready(p)
		}
		return nil
	})
	return g.Wait()
}

// waitServicesReady polls every enabled service's /readyz, where the router
// reaches it, until all answer 200 or ctx ends; while it waits it logs, now
// and then, which are not ready and why.
func waitServicesReady(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	client := &http.Client{Timeout: 2 * time.Second}
	notReady := func() map[string]string {
		out := map[string]string{}
		for _, name := range enabledServices() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.InternalURLs[name]+"/readyz", nil)
			if err != nil {
				out[name] = err.Error()
				continue
			}
			resp, err := client.Do(req)
			if err != nil {
				out[name] = err.Error()
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				out[name] = strings.TrimSpace(string(body))
			}
		}
		return out
	}
	lastLog := time.Now()
	for {
		waiting := notReady()
		if len(waiting) == 0 {
			return nil
		}
		if time.Since(lastLog) > 5*time.Second {
			logger.Info("waiting for services to be ready", "not_ready", waiting)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
