package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/httpserver"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/telemetry"
)

func init() {
	register("rebuild", "rebuild a read model exactly from the owners' exports: careslot rebuild availability|search", cmdRebuild)
}

// cmdRebuild pipes the owners' exports, read over HTTP from the running
// services (<SERVICE>_INTERNAL_URL), into a read model's rebuild. It opens
// only the read model's own store: never another service's.
func cmdRebuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rebuild", flag.ExitOnError)
	serve := fs.String("serve", "", "search with the embedded index: serve the rebuilt index's /graphql and /readyz at this address until "+
		"interrupted, to compare it with the live search processes")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: careslot rebuild [-serve addr] <availability|search>")
	}
	start := time.Now()
	if err := rebuild(ctx, config.FromEnv(), fs.Arg(0), *serve); err != nil {
		return err
	}
	fmt.Printf("rebuilt %s in %s\n", fs.Arg(0), time.Since(start).Round(time.Millisecond))
	return nil
}

// rebuild rebuilds a read model; with serveAddr, an embedded search index
// is then served there until ctx ends.
func rebuild(ctx context.Context, cfg config.Config, model, serveAddr string) error {
	cfg.KafkaBrokers = nil // a rebuild consumes nothing and publishes nothing
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return err
	}
	p := &platform.Platform{Config: cfg, Logger: telemetry.NewLogger(os.Stderr), Countries: cat}
	defer p.Close()
	c := &export.Client{Logger: p.Logger}
	switch model {
	case "availability":
		sg, err := platform.NewAvailability(ctx, p)
		if err != nil {
			return err
		}
		defer sg.Close()
		return sg.Rebuild(ctx, platform.PracticesExport(ctx, p, c), platform.OccupiedExport(ctx, p, c))
	case "search":
		sg, err := platform.NewSearch(ctx, p)
		if err != nil {
			return err
		}
		practices, nextSlots := counted(platform.PracticesExport(ctx, p, c)), counted(platform.NextSlotsExport(ctx, p, c))
		if err := sg.Rebuild(ctx, practices.stream, nextSlots.stream); err != nil {
			return err
		}
		if !sg.Embedded() {
			return nil
		}
		// The embedded index lives in each search process's memory, which
		// loads it from these same exports at every start: this one only
		// shows what they load, and answers searches if asked to.
		fmt.Printf("built an embedded index from the exports (%d practices, %d next slots); each search process builds its own at start: restart them to rebuild theirs (OPENSEARCH_URL unset)\n",
			practices.n, nextSlots.n)
		if serveAddr == "" {
			return nil
		}
		mux := http.NewServeMux()
		mux.Handle("/graphql", sg.Handler())
		httpserver.Health(mux, nil)
		fmt.Printf("serving the rebuilt index at http://%s/graphql until interrupted\n", serveAddr)
		return httpserver.Serve(ctx, serveAddr, mux, p.Logger)
	default:
		return fmt.Errorf("unknown read model %q (availability, search)", model)
	}
}

// counting counts what a stream gives.
type counting[T any] struct {
	src func(fn func([]T) error) error
	n   int
}

func counted[T any](src func(fn func([]T) error) error) *counting[T] { return &counting[T]{src: src} }

func (c *counting[T]) stream(fn func([]T) error) error {
	return c.src(func(page []T) error {
		c.n += len(page)
		return fn(page)
	})
}
