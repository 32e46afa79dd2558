package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/gqlclient"
)

// SlotsQuery is the patient web app's slot listing (contract: PractitionerSlots).
const SlotsQuery = `query PractitionerSlots($id: ID!, $appointmentTypeId: ID!, $from: Date!, $to: Date!) {
  practitioner(id: $id) {
    id
    availableSlots(appointmentTypeId: $appointmentTypeId, from: $from, to: $to) { startsAt endsAt location { id } }
  }
}`

// SlotsEntitiesQuery is what the router sends the availability subgraph for SlotsQuery (after
// asking the practitioner subgraph for the practitioner's key): the same listing without the
// router.
const SlotsEntitiesQuery = `query($representations: [_Any!]!, $appointmentTypeId: ID!, $from: Date!, $to: Date!) {
  _entities(representations: $representations) {
    ... on Practitioner { __typename availableSlots(appointmentTypeId: $appointmentTypeId, from: $from, to: $to) { startsAt endsAt location { id } } }
  }
}`

// SlotsVariantOp lists days of slots (from today or one of the next two days, so requests
// differ) of a random practice, through the router (SlotsQuery) or, with direct, straight at
// the availability subgraph (SlotsEntitiesQuery).
func SlotsVariantOp(c *gqlclient.Client, practices []Practice, days int, direct bool) Op {
	paris, _ := time.LoadLocation("Europe/Paris")
	return func(ctx context.Context, _, _ int) (Outcome, error) {
		p := practices[rand.IntN(len(practices))]
		from := time.Now().In(paris).AddDate(0, 0, rand.IntN(3))
		vars := map[string]any{"appointmentTypeId": p.TypeID, "from": from.Format(time.DateOnly), "to": from.AddDate(0, 0, days-1).Format(time.DateOnly)}
		query := SlotsQuery
		if direct {
			query = SlotsEntitiesQuery
			vars["representations"] = []map[string]any{{"__typename": "Practitioner", "id": p.ID}}
		} else {
			vars["id"] = p.ID
		}
		res, err := c.Do(ctx, "", query, vars)
		if err != nil {
			return "", err
		}
		if err := res.Err(); err != nil {
			return "", err
		}
		return "listed", nil
	}
}

// Measured is one side (router or direct) of an overhead comparison.
type Measured struct {
	RPS    float64 `json:"rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	Errors int64   `json:"errors"`
	// CPUmsPerRequest is the CPU the measured processes (their /metrics) spent per request,
	// in milliseconds, less what they spend idle (background consumers and relays, measured just
	// before); -1 when it could not be read.
	CPUmsPerRequest float64 `json:"cpu_ms_per_req"`
}

// Overhead compares the same operation through the router and straight at the subgraph.
type Overhead struct {
	Op      string   `json:"op"`
	Clients int      `json:"clients"`
	Seconds float64  `json:"seconds"`
	Router  Measured `json:"router"`
	Direct  Measured `json:"direct"`
	// RPSRatio is router ÷ direct throughput (1: the router costs nothing; 0.5: it halves it).
	RPSRatio float64 `json:"rps_ratio"`
	// P99Ratio and CPURatio are router ÷ direct p99 latency and CPU per request.
	P99Ratio float64 `json:"p99_ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	// IdleCPU is the share of one core the measured processes used with no load (-1: unknown).
	IdleCPU float64 `json:"idle_cpu"`
}

// idleWindow is how long CompareOverhead watches the processes' CPU before loading them.
const idleWindow = 3 * time.Second

// CompareOverhead runs router, then direct, for cfg's clients and duration each, reading the
// CPU of the processes behind cpuMetrics (Prometheus /metrics URLs, summed) around each run.
func CompareOverhead(ctx context.Context, name string, cfg Config, router, direct Op, cpuMetrics []string) Overhead {
	// A system at rest still spends CPU (consumers polling, relays): at a few listings a second
	// it would be counted as theirs.
	idle, idleOK := 0.0, false
	if start, ok := ProcessCPU(ctx, cpuMetrics); ok {
		t0 := time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(idleWindow):
		}
		if end, ok := ProcessCPU(ctx, cpuMetrics); ok {
			idle, idleOK = (end-start)/time.Since(t0).Seconds(), true
		}
	}
	run := func(label string, op Op) Measured {
		c := cfg
		c.Name = name + " " + label
		before, okBefore := ProcessCPU(ctx, cpuMetrics)
		t0 := time.Now()
		r := Run(ctx, c, op)
		after, okAfter := ProcessCPU(ctx, cpuMetrics)
		elapsed := time.Since(t0).Seconds()
		fmt.Println(r) // the human-readable line, beside the machine-readable result
		m := Measured{RPS: round(r.RPS(), 1), P50ms: ms(r.Percentile(50)), P99ms: ms(r.Percentile(99)), Errors: r.Outcomes["error"], CPUmsPerRequest: -1}
		if idleOK && okBefore && okAfter && r.Requests > 0 {
			m.CPUmsPerRequest = round(max(0, after-before-idle*elapsed)*1000/float64(r.Requests), 3)
		}
		return m
	}
	o := Overhead{Op: name, Clients: cfg.Clients, Seconds: cfg.Duration.Seconds(), IdleCPU: -1}
	if idleOK {
		o.IdleCPU = round(idle, 3)
	}
	o.Router = run("via router", router)
	o.Direct = run("direct", direct)
	o.RPSRatio = ratio(o.Router.RPS, o.Direct.RPS)
	o.P99Ratio = ratio(o.Router.P99ms, o.Direct.P99ms)
	if o.Router.CPUmsPerRequest > 0 && o.Direct.CPUmsPerRequest > 0 {
		o.CPURatio = ratio(o.Router.CPUmsPerRequest, o.Direct.CPUmsPerRequest)
	}
	return o
}

// ProcessCPU sums process_cpu_seconds_total over the given /metrics URLs; false when any
// cannot be read.
func ProcessCPU(ctx context.Context, urls []string) (float64, bool) {
	if len(urls) == 0 {
		return 0, false
	}
	client := &http.Client{Timeout: 5 * time.Second}
	total := 0.0
	for _, u := range urls {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, u, nil)
		if err != nil {
			return 0, false
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		v, found := 0.0, false
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
				v, err = strconv.ParseFloat(strings.TrimSpace(rest), 64)
				found = err == nil
				break
			}
		}
		res.Body.Close()
		if !found {
			return 0, false
		}
		total += v
	}
	return total, true
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a/b, 3)
}

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}
