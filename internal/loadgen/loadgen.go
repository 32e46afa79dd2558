// Package loadgen drives the router with many concurrent clients for a
// bounded time or count and reports throughput and latency percentiles. It is
// the engine behind `careslot loadgen` and `make bench`; it only ever targets
// the addresses it is given (loopback in practice).
package loadgen

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome classifies one request.
type Outcome string

// Op performs one request for a client and reports its outcome; an error is
// counted as a failure with its message.
type Op func(ctx context.Context, client, iteration int) (Outcome, error)

// Config bounds a run: it stops at Duration or after Requests requests,
// whichever comes first (a zero bound is ignored, but one must be set).
type Config struct {
	Name     string
	Clients  int
	Duration time.Duration
	Requests int64
}

// Report is what a run measured.
type Report struct {
	Name      string
	Clients   int
	Elapsed   time.Duration
	Requests  int64
	Outcomes  map[Outcome]int64
	Errors    map[string]int64
	latencies []time.Duration
}

// RPS is requests per second.
func (r *Report) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Rate is the rate of one outcome per second.
func (r *Report) Rate(o Outcome) float64 { return float64(r.Outcomes[o]) / r.Elapsed.Seconds() }

// Percentile returns the latency at p (0–100).
func (r *Report) Percentile(p float64) time.Duration { return Percentile(r.latencies, p) }

// Percentile of a sorted or unsorted sample (sorted in place).
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		slices.Sort(d)
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// String is a one-line summary.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s clients=%-3d requests=%-7d %8.0f req/s  p50=%-8s p99=%-8s", r.Name, r.Clients, r.Requests, r.RPS(),
		r.Percentile(50).Round(10*time.Microsecond), r.Percentile(99).Round(10*time.Microsecond))
	keys := make([]string, 0, len(r.Outcomes))
	for o := range r.Outcomes {
		keys = append(keys, string(o))
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, r.Outcomes[Outcome(k)])
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, " errors=%v", r.Errors)
	}
	return b.String()
}

// Run executes op from cfg.Clients goroutines released together.
func Run(ctx context.Context, cfg Config, op Op) *Report {
	if cfg.Clients < 1 {
		cfg.Clients = 1
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var (
		issued   atomic.Int64
		mu       sync.Mutex
		wg       sync.WaitGroup
		start    = make(chan struct{})
		report   = &Report{Name: cfg.Name, Clients: cfg.Clients, Outcomes: map[Outcome]int64{}, Errors: map[string]int64{}}
		perLat   = make([][]time.Duration, cfg.Clients)
		perOut   = make([]map[Outcome]int64, cfg.Clients)
		perError = make([]map[string]int64, cfg.Clients)
	)
	for c := 0; c < cfg.Clients; c++ {
		perOut[c], perError[c] = map[Outcome]int64{}, map[string]int64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ctx.Err() == nil; i++ {
				if cfg.Requests > 0 && issued.Add(1) > cfg.Requests {
					return
				}
				t0 := time.Now()
				out, err := op(ctx, c, i)
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // the run ended under this request: not a failure
				}
				perLat[c] = append(perLat[c], d)
				if err != nil {
					msg := err.Error()
					if len(msg) > 120 {
						msg = msg[:120]
					}
					perError[c][msg]++
					perOut[c]["error"]++
					continue
				}
				perOut[c][out]++
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	report.Elapsed = time.Since(t0)
	mu.Lock()
	defer mu.Unlock()
	for c := range perLat {
		report.latencies = append(report.latencies, perLat[c]...)
		for k, v := range perOut[c] {
			report.Outcomes[k] += v
		}
		for k, v := range perError[c] {
			report.Errors[k] += v
		}
	}
	report.Requests = int64(len(report.latencies))
	slices.Sort(report.latencies)
	return report
}
