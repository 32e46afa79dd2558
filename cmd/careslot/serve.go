package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/router"
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
		return fmt.Errorf("usage: careslot serve <service> (one of %v)", platform.Services())
	}
	cfg := config.FromEnv()
	if len(cfg.KafkaBrokers) == 0 {
		return fmt.Errorf("KAFKA_BROKERS is required for `serve` (only `dev` embeds a broker)")
	}
	// Registered first so it runs last: the whole stop, tracing flush included.
	defer shutdown.Bound(ctx, cfg.ShutdownDrain+cfg.ShutdownTimeout, telemetry.NewLogger(os.Stderr).With("service", fs.Arg(0)))()
	p, err := platform.Start(ctx, cfg, "careslot-"+fs.Arg(0))
	if err != nil {
		return err
	}
	defer p.Close()
	s, err := platform.Build(ctx, p, fs.Arg(0))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if err := p.Run(gctx, g, s); err != nil {
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
	p, err := platform.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	opts, err := platform.RouterOptions(p, *execConfig, *dev)
	if err != nil {
		return err
	}
	return router.Run(ctx, opts)
}
