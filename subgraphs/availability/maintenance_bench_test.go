package availability_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/availability/store"
)

var maintenanceN = flag.Int("maintenance.n", 2000, "BenchmarkBusinessDayMaintenance: practitioners")

// BenchmarkBusinessDayMaintenance replays a weekday in Paris, 06:00 to 21:00,
// minute by minute, over practitioners shaped like the seed's (open agendas,
// slots every 15 minutes, one hour's notice), and measures what keeping
// their next available slot current costs: the maintenance worker refreshes
// a practitioner each time its next slot passes out of reach, and each such
// refresh that changes the next slot is an AvailabilityChanged event that
// search applies. It reports refreshes per practitioner over the day, the
// peak minute as refreshes per second at 500,000 practitioners, how fast the
// worker drained that peak, and the CPU
// (this process and Redis) per refresh; producing the event to Kafka and
// search applying it are not in these figures.
func BenchmarkBusinessDayMaintenance(b *testing.B) {
	e := newEnv(b, nil, "")
	b.Cleanup(func() { unlinkPrefix(b, e.rdb, e.prefix) })
	ctx := context.Background()
	n := *maintenanceN
	rng := rand.New(rand.NewPCG(3, 5))
	day := 1 // start is a Monday: replay the Tuesday
	e.clock.Set(at(day, 5, 0))
	for i := range n {
		if _, err := e.svc.ApplyPractitioner(ctx, seedLikePractitioner(rng, i)); err != nil {
			b.Fatal(err)
		}
	}
	// maintain does what the worker does at t: refreshes every practitioner
	// due, a batch at a time, and says how many.
	maintain := func(t time.Time) int {
		e.clock.Set(t)
		total := 0
		for {
			n, err := e.svc.MaintainOnce(ctx, t)
			if err != nil {
				b.Fatal(err)
			}
			total += n
			if n == 0 {
				return total
			}
		}
	}
	maintain(at(day, 6, 0).Add(2500 * time.Millisecond))
	if c, err := e.rdb.ZCard(ctx, store.Keys{Prefix: e.prefix}.Due()).Result(); err != nil || c != int64(n) {
		b.Fatalf("due set holds %d practitioners (%v), want %d", c, err, n)
	}

	var refreshes, peak int
	var peakAt time.Time
	var peakTook time.Duration
	cpu0, redis0, wall0 := processCPU(b), redisCPU(b, e.rdb), time.Now()
	for b.Loop() {
		refreshes, peak = 0, 0
		// The worker looks every 5 s, so it takes a due practitioner up to
		// 5 s late: each minute is replayed 2.5 s after it starts (at the
		// due second itself, the slot that expires then still holds, and the
		// practitioner is due again a second later).
		for t := at(day, 6, 1).Add(2500 * time.Millisecond); !t.After(at(day, 21, 0)); t = t.Add(time.Minute) {
			t0 := time.Now()
			c := maintain(t)
			refreshes += c
			if c > peak {
				peak, peakAt, peakTook = c, t, time.Since(t0)
			}
		}
	}
	b.StopTimer()
	goCPU, redisCPUs, wall := processCPU(b)-cpu0, redisCPU(b, e.rdb)-redis0, time.Since(wall0)
	per := float64(refreshes) / float64(n)
	b.ReportMetric(per, "refreshes/practitioner/day")
	b.ReportMetric(float64(peak)/float64(n)*500000/60, "peak-refreshes/s-at-500k")
	b.ReportMetric(float64(peak)/peakTook.Seconds(), "peak-drain-refreshes/s")
	b.ReportMetric(goCPU*1e6/float64(refreshes), "go-cpu-µs/refresh")
	b.ReportMetric(redisCPUs*1e6/float64(refreshes), "redis-cpu-µs/refresh")
	b.Logf("%d practitioners, 06:00-21:00: %d refreshes (%.1f each), peak %d in the minute from %s, refreshed in %v; %v of wall time, process CPU %.2fs, Redis CPU %.2fs",
		n, refreshes, per, peak, peakAt.Format("15:04:05"), peakTook.Round(time.Millisecond), wall.Round(time.Millisecond), goCPU, redisCPUs)
}
