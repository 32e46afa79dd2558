package system

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/loadgen"
)

const bookMutation = `mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) { appointment { id status } } }`

const slotsQuery = `query($id: ID!, $t: ID!, $from: Date!, $to: Date!) { practitioner(id: $id) { id availableSlots(appointmentTypeId: $t, from: $from, to: $to) { startsAt endsAt location { id } } } }`

const searchQuery = `query($input: PractitionerSearchInput!, $first: Int, $after: String) { searchPractitioners(input: $input, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { nextAvailableSlot location { id } practitioner { id } } } }`

// StormClients is how many booking clients a storm runs.
const StormClients = 64

// Storm is the load each fault runs under: StormClients patients booking
// random starts at the storm's practices through the router, each request
// retried with its idempotency key (as a client would) until it gets an
// answer, and a few readers listing slots and searching.
type Storm struct {
	Name      string
	Run       string // the idempotency keys' prefix
	Practices []loadgen.Practice
	client    *gqlclient.Client
	tokens    []string
	days      int

	stopNew context.CancelFunc
	wg      sync.WaitGroup
	started time.Time
	stopped time.Time

	mu       sync.Mutex
	accepted map[string]string // idempotency key → appointment id
	samples  map[string]int    // failure message → count

	attempts, booked, unavailable atomic.Int64
	// refused counts requests that failed (a transport error, a 5xx or an
	// error without a domain code) and were retried; status5xx those of
	// them the router answered with a 5xx; unresolved the keys still
	// failing when the storm gave up.
	refused, status5xx, unresolved atomic.Int64
	// readRetried counts reads that failed once and succeeded when the
	// client asked again (as the web app's query retry does); readRefused
	// those that failed twice.
	reads, readRefused, readRetried atomic.Int64
}

// StartStorm starts a storm over practices with patients' tokens.
func (s *System) StartStorm(name string, practices []loadgen.Practice, tokens []string) *Storm {
	st := &Storm{
		Name: name, Run: name + "-" + s.Suffix, Practices: practices, client: s.Client, tokens: tokens, days: 30,
		accepted: map[string]string{}, samples: map[string]int{}, started: time.Now(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.stopNew = cancel
	for c := range StormClients {
		st.wg.Add(1)
		go func() { defer st.wg.Done(); st.booker(ctx, c) }()
	}
	for c := range 4 {
		st.wg.Add(1)
		go func() { defer st.wg.Done(); st.reader(ctx, c) }()
	}
	return st
}

// Stop ends the storm: no new bookings; those in flight retry until answered
// (at most a minute).
func (st *Storm) Stop() {
	st.stopNew()
	st.wg.Wait()
	st.stopped = time.Now()
}

// Accepted is what the API accepted: idempotency key → appointment id.
func (st *Storm) Accepted() map[string]string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]string, len(st.accepted))
	for k, v := range st.accepted {
		out[k] = v
	}
	return out
}

// Refused is the number of failed booking requests so far.
func (st *Storm) Refused() int64 { return st.refused.Load() }

func (st *Storm) fail(msg string) {
	if len(msg) > 160 {
		msg = msg[:160]
	}
	st.mu.Lock()
	st.samples[msg]++
	st.mu.Unlock()
}

func (st *Storm) booker(ctx context.Context, c int) {
	paris, _ := time.LoadLocation("Europe/Paris")
	today := time.Now().In(paris)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, paris)
	for i := 0; ctx.Err() == nil; i++ {
		p := st.Practices[rand.IntN(len(st.Practices))]
		d := today.AddDate(0, 0, 1+rand.IntN(st.days))
		start := time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, paris).Add(time.Duration(rand.IntN(47)) * 15 * time.Minute)
		key := fmt.Sprintf("%s-%d-%d", st.Run, c, i)
		vars := map[string]any{"input": map[string]any{"practitionerId": p.ID, "appointmentTypeId": p.TypeID,
			"startsAt": start.Format(time.RFC3339), "idempotencyKey": key}}
		st.book(st.tokens[rand.IntN(len(st.tokens))], key, vars)
	}
}

// book sends one booking until it gets an answer, retrying with the same
// key and token after failures.
func (st *Storm) book(token, key string, vars map[string]any) {
	giveUp := time.Now().Add(60 * time.Second)
	wait := 50 * time.Millisecond
	for {
		st.attempts.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		res, err := st.client.Do(ctx, token, bookMutation, vars)
		cancel()
		switch {
		case err != nil:
			st.fail("transport: " + err.Error())
		case res.Status >= 500:
			st.status5xx.Add(1)
			st.fail(fmt.Sprintf("HTTP %d", res.Status))
		case len(res.Errors) == 0:
			var out struct {
				BookAppointment struct{ Appointment struct{ ID, Status string } }
			}
			if err := json.Unmarshal(res.Data, &out); err != nil || out.BookAppointment.Appointment.ID == "" {
				st.fail(fmt.Sprintf("undecodable answer %.100s", res.Data))
				break
			}
			st.mu.Lock()
			st.accepted[key] = out.BookAppointment.Appointment.ID
			st.mu.Unlock()
			st.booked.Add(1)
			return
		case res.Errors[0].Code() == "SLOT_UNAVAILABLE", res.Errors[0].Code() == "BOOKING_LIMIT_REACHED":
			// A domain answer (the slot is taken, or this patient booked the
			// practice's most for the day): final, not a failure to retry.
			st.unavailable.Add(1)
			return
		default:
			st.fail(res.Errors[0].Code() + ": " + res.Errors[0].Message)
		}
		st.refused.Add(1)
		if time.Now().After(giveUp) {
			st.unresolved.Add(1)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func (st *Storm) reader(ctx context.Context, c int) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for i := 0; ctx.Err() == nil; i++ {
		var res *gqlclient.Response
		var err error
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		query, vars := searchQuery, map[string]any{"first": 20, "input": map[string]any{
			"country": "fr", "specialty": "general-practice", "near": map[string]any{"lat": 48.87, "lon": 2.33, "radiusKm": 5 + rand.Float64()}}}
		if i%2 == 0 {
			p := st.Practices[rand.IntN(len(st.Practices))]
			from := time.Now().In(paris).AddDate(0, 0, 1+rand.IntN(5))
			query, vars = slotsQuery, map[string]any{"id": p.ID, "t": p.TypeID,
				"from": from.Format(time.DateOnly), "to": from.AddDate(0, 0, 2).Format(time.DateOnly)}
		}
		res, err = st.client.Do(rctx, "", query, vars)
		cancel()
		if ctx.Err() != nil {
			return
		}
		st.reads.Add(1)
		if err = readErr(res, err); err == nil {
			continue
		}
		st.fail("read: " + err.Error())
		time.Sleep(50 * time.Millisecond)
		rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		res, err = st.client.Do(rctx, "", query, vars)
		cancel()
		if err = readErr(res, err); err == nil {
			st.readRetried.Add(1)
		} else if ctx.Err() == nil {
			st.readRefused.Add(1)
			st.fail("read, asked again: " + err.Error())
		}
	}
}

func readErr(res *gqlclient.Response, err error) error {
	switch {
	case err != nil:
		return err
	case res.Status >= 500:
		return fmt.Errorf("HTTP %d", res.Status)
	}
	return res.Err()
}

// Report is a one-line summary and the most frequent failures.
func (st *Storm) Report() string {
	end := st.stopped
	if end.IsZero() {
		end = time.Now()
	}
	el := end.Sub(st.started).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "storm %s: %d clients, %.1fs, %d attempts, %d booked (%.0f/s), %d slot unavailable, %d refused (%d HTTP 5xx), %d unresolved; reads %d, %d answered only when asked again, %d refused",
		st.Name, StormClients, el, st.attempts.Load(), st.booked.Load(), float64(st.booked.Load())/el, st.unavailable.Load(),
		st.refused.Load(), st.status5xx.Load(), st.unresolved.Load(), st.reads.Load(), st.readRetried.Load(), st.readRefused.Load())
	st.mu.Lock()
	type kv struct {
		k string
		n int
	}
	var top []kv
	for k, n := range st.samples {
		top = append(top, kv{k, n})
	}
	st.mu.Unlock()
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
	for i, e := range top {
		if i == 4 {
			break
		}
		fmt.Fprintf(&b, "\n    %5d × %s", e.n, e.k)
	}
	return b.String()
}
