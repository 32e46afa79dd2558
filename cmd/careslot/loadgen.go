package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/loadgen"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/practitioner/seed"
)

func init() {
	register("loadgen", "drive the router: careslot loadgen book|slots|search|overhead [--clients 64 --duration 20s]", cmdLoadgen)
}

func cmdLoadgen(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: careslot loadgen <book|slots|search|overhead> [flags]")
	}
	scenario := args[0]
	cfg := config.FromEnv()
	fs := flag.NewFlagSet("loadgen "+scenario, flag.ExitOnError)
	routerURL := fs.String("router", "http://"+cfg.RouterAddr+"/graphql", "router GraphQL endpoint")
	clients := fs.Int("clients", 64, "concurrent clients")
	duration := fs.Duration("duration", 20*time.Second, "how long to drive load")
	nPractices := fs.Int("practitioners", 20, "practices to create and contend on")
	nPatients := fs.Int("patients", 2000, "patients to create (book)")
	days := fs.Int("days", 60, "days ahead to book or list")
	subgraphURL := fs.String("subgraph", "http://"+cfg.SubgraphAddrs["search"]+"/graphql", "search: the search subgraph, called directly for comparison (empty: skip)")
	checkBooking := fs.String("check-booking", cfg.InternalURLs[booking.Name], "booking's internal listener, asked afterwards how many double bookings it holds (empty: skip)")
	availabilityURL := fs.String("availability", "http://"+cfg.SubgraphAddrs["availability"]+"/graphql", "overhead: the availability subgraph, called directly for the slot listing")
	ops := fs.String("ops", "search,slots", "overhead: the operations to compare (search, slots)")
	// In `careslot dev` the router and every subgraph share one process: any service's metrics
	// address reports the CPU of all of them.
	cpuMetrics := fs.String("cpu-metrics", "http://"+cfg.MetricsAddrs["search"]+"/metrics", "overhead: comma-separated Prometheus /metrics URLs whose process CPU is counted per request (empty: skip)")
	_ = fs.Parse(args[1:])

	key, err := auth.LoadOrCreateDevKey(devKeyPath(cfg))
	if err != nil {
		return err
	}
	mint := func(role, sub string) (string, error) {
		return key.Mint(auth.TokenClaims{Subject: sub, Role: auth.Role(role), Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience}, 2*time.Hour)
	}
	c := gqlclient.New(*routerURL)
	c.HTTP.Transport = gqlclient.NewTransport(*clients)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)

	if scenario == "search" {
		return searchLoad(ctx, cfg, *routerURL, *subgraphURL, *clients, *duration)
	}
	if scenario == "overhead" {
		return overheadLoad(ctx, cfg, c, mint, run, overheadOptions{
			ops: strings.Split(*ops, ","), routerURL: *routerURL, searchURL: *subgraphURL, availabilityURL: *availabilityURL,
			cpuMetrics: config.List(*cpuMetrics), clients: *clients, duration: *duration, practices: *nPractices, days: *days,
		})
	}
	fmt.Printf("setting up %d practices through %s …\n", *nPractices, *routerURL)
	practices, err := loadgen.SetupPractices(ctx, c, mint, run, *nPractices)
	if err != nil {
		return err
	}
	switch scenario {
	case "book":
		tokens, err := loadgen.SetupPatients(ctx, c, mint, run, *nPatients)
		if err != nil {
			return err
		}
		if err := loadgen.WaitBookable(ctx, c, practices, tokens[0]); err != nil {
			return err
		}
		r := loadgen.Run(ctx, loadgen.Config{Name: "book (contended)", Clients: *clients, Duration: *duration},
			loadgen.BookOp(c, practices, tokens, *days, run))
		fmt.Println(r)
		fmt.Printf("bookings/s: %.0f   attempts/s: %.0f\n", r.Rate("booked"), r.RPS())
		if *checkBooking != "" {
			n, err := loadgen.DoubleBookings(ctx, strings.TrimSuffix(*checkBooking, "/")+booking.OverlapsPath)
			if err != nil {
				return err
			}
			fmt.Printf("double bookings counted by booking: %d\n", n)
		}
	case "slots":
		time.Sleep(2 * time.Second) // let availability consume the new schedules
		r := loadgen.Run(ctx, loadgen.Config{Name: fmt.Sprintf("slots (%d days)", *days), Clients: *clients, Duration: *duration},
			loadgen.SlotsOp(c, practices, *days))
		fmt.Println(r)
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	return nil
}

type overheadOptions struct {
	ops                                   []string
	routerURL, searchURL, availabilityURL string
	cpuMetrics                            []string
	clients                               int
	duration                              time.Duration
	practices, days                       int
}

// overheadLoad measures what the router adds to the same operation: each operation of o.ops
// through the router, then straight at the subgraph that answers it, one after the other with
// the same clients and duration. It prints each run's line, then one JSON line (the last)
// with, per operation, both sides' throughput, latency and CPU per request and the router ÷
// direct ratios (bench/router-overhead.sh reads it).
func overheadLoad(ctx context.Context, cfg config.Config, c *gqlclient.Client, mint loadgen.Minter, run string, o overheadOptions) error {
	client := func(url string) *gqlclient.Client {
		gc := gqlclient.New(url)
		gc.HTTP.Transport = gqlclient.NewTransport(o.clients)
		return gc
	}
	lc := loadgen.Config{Clients: o.clients, Duration: o.duration}
	var results []loadgen.Overhead
	for _, op := range o.ops {
		switch strings.TrimSpace(op) {
		case "search":
			places, specs, err := searchPlaces(cfg)
			if err != nil {
				return err
			}
			results = append(results, loadgen.CompareOverhead(ctx, "search", lc,
				loadgen.SearchOp(client(o.routerURL), places, specs), loadgen.SearchOp(client(o.searchURL), places, specs), o.cpuMetrics))
		case "slots":
			practices, err := loadgen.SetupPractices(ctx, c, mint, run, o.practices)
			if err != nil {
				return err
			}
			time.Sleep(2 * time.Second) // let availability consume the new schedules
			results = append(results, loadgen.CompareOverhead(ctx, fmt.Sprintf("slots-%dd", o.days), lc,
				loadgen.SlotsVariantOp(client(o.routerURL), practices, o.days, false),
				loadgen.SlotsVariantOp(client(o.availabilityURL), practices, o.days, true), o.cpuMetrics))
		default:
			return fmt.Errorf("overhead: unknown operation %q (search, slots)", op)
		}
	}
	line, err := json.Marshal(map[string]any{"router_overhead": results})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

// searchPlaces are the seeded cities of every served country and each country's specialties.
func searchPlaces(cfg config.Config) ([]loadgen.Place, map[string][]string, error) {
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return nil, nil, err
	}
	var places []loadgen.Place
	specs := map[string][]string{}
	for _, c := range cat.All() {
		for _, city := range seed.Cities(c.Code) {
			places = append(places, loadgen.Place{Country: c.Code, Lat: city.Lat, Lon: city.Lon})
		}
		for _, s := range c.Specialties {
			specs[c.Code] = append(specs[c.Code], s.Code)
		}
	}
	return places, specs, nil
}

// searchLoad drives varied searches around the seeded cities through the
// router, then the same load straight at the search subgraph, so the
// router's share is visible.
func searchLoad(ctx context.Context, cfg config.Config, routerURL, subgraphURL string, clients int, d time.Duration) error {
	places, specs, err := searchPlaces(cfg)
	if err != nil {
		return err
	}
	targets := []struct{ name, url string }{{"search via router", routerURL}, {"search direct to subgraph", subgraphURL}}
	for _, t := range targets {
		if t.url == "" {
			continue
		}
		c := gqlclient.New(t.url)
		c.HTTP.Transport = gqlclient.NewTransport(clients)
		r := loadgen.Run(ctx, loadgen.Config{Name: t.name, Clients: clients, Duration: d}, loadgen.SearchOp(c, places, specs))
		fmt.Println(r)
	}
	return nil
}
