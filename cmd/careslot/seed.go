package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/subgraphs/practitioner"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/seed"
)

func init() {
	register("seed", "create realistic practices through the import path: careslot seed --practitioners 500000", cmdSeed)
}

func cmdSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	n := fs.Int("practitioners", 10000, "how many practitioners")
	only := fs.String("countries", "", "comma-separated country codes (default: every served country)")
	batch := fs.Int("batch", 1000, "rows per import call (at most "+fmt.Sprint(business.MaxImportRows)+")")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "concurrent import calls (default: one per core)")
	_ = fs.Parse(args)
	if *batch < 1 || *batch > business.MaxImportRows || *workers < 1 {
		return fmt.Errorf("seed: --batch must be 1 to %d and --workers at least 1", business.MaxImportRows)
	}
	if os.Getenv("GOGC") == "" {
		// Batches bound the live heap (a few MB a worker) while an import
		// allocates ~50 kB a practice: with the default target the
		// collector took about a fifth of this process's CPU (measured).
		debug.SetGCPercent(400)
	}

	cfg := config.FromEnv()
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return err
	}
	codes := cat.Codes()
	if *only != "" {
		codes = strings.Split(*only, ",")
	}
	p := &platform.Platform{Config: cfg, Logger: telemetry.NewLogger(os.Stderr), Countries: cat}
	defer p.Close()
	// Seeding is a developer's and the benchmark's tool: it migrates the
	// practitioner database first, like `careslot migrate practitioner`.
	if err := migrateStore(ctx, cfg, cat, practitioner.Name, p.Logger); err != nil {
		return err
	}
	pool, err := p.OpenStore(ctx, practitioner.Name)
	if err != nil {
		return err
	}
	sg, err := practitioner.New(ctx, practitioner.Deps{Pool: pool, Countries: cat, Logger: p.Logger})
	if err != nil {
		return err
	}
	admin := auth.WithPrincipal(ctx, auth.Principal{Subject: "seed", Role: auth.RoleAdmin})

	type job struct {
		country string
		from    int
		count   int
	}
	jobs := make(chan job)
	var imported, failed atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(admin)
	g.Go(func() error {
		defer close(jobs)
		per := *n / len(codes)
		for i, cc := range codes {
			total := per
			if i == len(codes)-1 {
				total = *n - per*(len(codes)-1)
			}
			for from := 0; from < total; from += *batch {
				select {
				case jobs <- job{cc, from, min(*batch, total-from)}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	for w := 0; w < *workers; w++ {
		g.Go(func() error {
			for j := range jobs {
				c, ok := cat.Get(j.country)
				if !ok {
					return fmt.Errorf("country %q is not served", j.country)
				}
				// One generator per batch, seeded by its position: reproducible.
				gen := seed.NewGenerator(c, uint64(j.from))
				rows := make([]business.ImportRow, j.count)
				for i := range rows {
					rows[i] = gen.Row(j.from + i)
				}
				res, err := sg.Service.Import(gctx, rows)
				if err != nil {
					return err
				}
				imported.Add(int64(res.Imported))
				failed.Add(int64(len(res.Failed)))
				if len(res.Failed) > 0 {
					p.Logger.Warn("seed rows refused", "country", j.country, "first", res.Failed[0].Message)
				}
				if done := imported.Load(); done%(int64(*batch)*20) < int64(j.count) {
					fmt.Printf("%d practitioners imported (%.0f/s)\n", done, float64(done)/time.Since(start).Seconds())
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Statistics for the rows just loaded, before anything reads them (the
	// read models' rebuild first), as a bulk load should leave its tables.
	analyzed := time.Now()
	if err := postgres.Analyze(ctx, pool); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	el := time.Since(start)
	fmt.Printf("seeded %d practitioners (%d refused) in %s: %.0f/s (statistics refreshed in %s)\n", imported.Load(), failed.Load(), el.Round(time.Millisecond),
		float64(imported.Load())/el.Seconds(), time.Since(analyzed).Round(time.Millisecond))
	fmt.Println("their events wait in the practitioner outbox; a running `dev` or `serve practitioner` relays them, and `careslot rebuild` refreshes the read models.")
	return nil
}
