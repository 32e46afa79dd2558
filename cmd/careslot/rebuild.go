package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/practitioner"
)

func init() {
	register("rebuild", "rebuild a read model exactly from the authoritative stores: careslot rebuild availability|search", cmdRebuild)
}

// cmdRebuild pipes the owners' exports (practitioner snapshots, live
// bookings) into a read model's rebuild. Each service reads only its own
// store; this command only connects them.
func cmdRebuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rebuild", flag.ExitOnError)
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: careslot rebuild <availability|search>")
	}
	start := time.Now()
	if err := rebuild(ctx, config.FromEnv(), fs.Arg(0)); err != nil {
		return err
	}
	fmt.Printf("rebuilt %s in %s\n", fs.Arg(0), time.Since(start).Round(time.Millisecond))
	return nil
}

func rebuild(ctx context.Context, cfg config.Config, model string) error {
	cfg.KafkaBrokers = nil // a rebuild consumes nothing and publishes nothing
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return err
	}
	p := &platform{cfg: cfg, logger: telemetry.NewLogger(os.Stderr), countries: cat}
	defer p.close()
	switch model {
	case "availability":
		snapshots, err := practitionerSnapshots(ctx, p)
		if err != nil {
			return err
		}
		occupied, err := occupiedRanges(ctx, p)
		if err != nil {
			return err
		}
		sg, err := newAvailability(ctx, p)
		if err != nil {
			return err
		}
		defer sg.Close()
		if err := sg.Rebuild(ctx, snapshots, occupied); err != nil {
			return err
		}
	case "search":
		if cfg.OpenSearchURL == "" {
			// The embedded index lives in each search process's memory and is
			// loaded from these same exports every time the process starts.
			fmt.Println("the embedded search index is rebuilt from the stores at every start of the search service; restart it (OPENSEARCH_URL unset)")
			return nil
		}
		snapshots, err := practitionerSnapshots(ctx, p)
		if err != nil {
			return err
		}
		next, err := availabilityNextSlots(ctx, p)
		if err != nil {
			return err
		}
		sg, err := newSearch(ctx, p)
		if err != nil {
			return err
		}
		if err := sg.Rebuild(ctx, snapshots, next); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown read model %q (availability, search)", model)
	}
	return nil
}

// practitionerSnapshots streams every practice, as the practitioner service exports it.
func practitionerSnapshots(ctx context.Context, p *platform) (func(fn func([]eventdata.Practitioner) error) error, error) {
	pool, err := p.openStore(ctx, practitioner.Name)
	if err != nil {
		return nil, err
	}
	sg, err := practitioner.New(ctx, practitioner.Deps{Pool: pool, Countries: p.countries, Logger: p.logger})
	if err != nil {
		return nil, err
	}
	return func(fn func([]eventdata.Practitioner) error) error {
		return sg.Service.ExportSnapshots(ctx, 1000, fn)
	}, nil
}

// occupiedRanges streams the live holds and confirmed appointments, as booking exports them.
func occupiedRanges(ctx context.Context, p *platform) (func(fn func([]eventdata.Appointment) error) error, error) {
	pool, err := p.openStore(ctx, booking.Name)
	if err != nil {
		return nil, err
	}
	sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: p.countries, Logger: p.logger})
	if err != nil {
		return nil, err
	}
	return func(fn func([]eventdata.Appointment) error) error {
		return sg.Service.ExportOccupied(ctx, fn)
	}, nil
}
