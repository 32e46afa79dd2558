package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/platform"
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
	err = runDevStack(ctx, cfg, key, jwksAddr, *execConfig, true, func(ctx context.Context, p *platform.Platform) {
		routerURL := "http://" + cfg.RouterAddr + "/graphql"
		var demo *demoData
		if !*noDemo {
			var err error
			if demo, err = ensureDemo(ctx, cfg, key, routerURL); err != nil {
				p.Logger.Error("demo data", "err", err)
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
// until ctx ends. ready runs once everything is ready (see platform.RunStack).
func runDevStack(ctx context.Context, cfg config.Config, key *auth.DevKey, jwksAddr, execConfig string, devMode bool,
	ready func(context.Context, *platform.Platform)) error {
	g, gctx := errgroup.WithContext(ctx)
	if jwksAddr != "" {
		ln, err := net.Listen("tcp", jwksAddr)
		if err != nil {
			return fmt.Errorf("development JWKS: %w", err)
		}
		g.Go(func() error { return auth.ServeJWKSOn(gctx, ln, key) })
	}
	g.Go(func() error {
		return platform.RunStack(gctx, cfg, execConfig, devMode, func(p *platform.Platform) {
			if ready != nil {
				ready(gctx, p)
			}
		})
	})
	return g.Wait()
}
