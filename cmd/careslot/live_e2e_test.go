package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/livehub/wsclient"
	"github.com/careslot/careslot/subgraphs/availability"
)

// wsURL is the router's WebSocket endpoint.
func (s *stack) wsURL() string { return "ws://" + s.cfg.RouterAddr + "/graphql" }

// dialWS opens a graphql-transport-ws connection, with token (if any) in
// connectionParams.Authorization as browsers send it.
func dialWS(t testing.TB, url, token string) *wsclient.Conn {
	t.Helper()
	var payload map[string]any
	if token != "" {
		payload = map[string]any{"Authorization": "Bearer " + token}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, url, payload)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type slotsChanged struct {
	SlotsChanged struct {
		PractitionerID string
		Slots          []struct {
			StartsAt, EndsAt time.Time
			Location         struct{ ID string }
		}
	}
}

// starts is the set of start instants of a message (UTC).
func (m slotsChanged) starts() map[time.Time]bool {
	out := map[time.Time]bool{}
	for _, s := range m.SlotsChanged.Slots {
		out[s.StartsAt.UTC()] = true
	}
	return out
}

func (m slotsChanged) key() string {
	var b strings.Builder
	for _, s := range m.SlotsChanged.Slots {
		fmt.Fprintf(&b, "%d-%d-%s,", s.StartsAt.Unix(), s.EndsAt.Unix(), s.Location.ID)
	}
	return b.String()
}

func slotsKey(r slotsResult) string {
	var b strings.Builder
	for _, s := range r.Practitioner.AvailableSlots {
		fmt.Fprintf(&b, "%d-%d-%s,", s.StartsAt.Unix(), s.EndsAt.Unix(), s.Location.ID)
	}
	return b.String()
}

func decodeSlots(t testing.TB, m wsclient.Message) slotsChanged {
	t.Helper()
	if m.Done || len(m.Errors) > 0 {
		t.Fatalf("subscription ended or failed: %+v", m)
	}
	var out slotsChanged
	if err := json.Unmarshal(m.Data, &out); err != nil {
		t.Fatalf("%v: %s", err, m.Data)
	}
	return out
}

// nextSlots waits for the subscription's next message.
func nextSlotsMsg(t testing.TB, sub *wsclient.Sub, within time.Duration) slotsChanged {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return decodeSlots(t, m)
	case <-time.After(within):
		t.Fatalf("no message in %s", within)
	}
	return slotsChanged{}
}

// livePractice registers a practice open every day and waits until
// availability lists its 47 slots of tomorrow.
func livePractice(t testing.TB, s *stack, last string) (prID, typeID, prTok, day string) {
	t.Helper()
	prID, locID, typeID, prTok := registerPractice(t, s, "Live", last)
	openEveryDay(t, s, prTok, locID, typeID)
	day = tomorrowAt(0, 0).Format(time.DateOnly)
	eventually(t, "slots listed", func() string {
		// Availability may know the practice before its type (INVALID_INPUT meanwhile).
		res, err := s.client.Do(context.Background(), "", s.op(t, "PractitionerSlots"),
			map[string]any{"id": prID, "appointmentTypeId": typeID, "from": day, "to": day})
		if err != nil {
			return err.Error()
		}
		var out slotsResult
		if len(res.Errors) > 0 || res.Decode(&out) != nil {
			return fmt.Sprintf("not listable yet: %v", res.Err())
		}
		if n := len(out.Practitioner.AvailableSlots); n != 47 {
			return fmt.Sprintf("%d slots", n)
		}
		return ""
	})
	return prID, typeID, prTok, day
}

func watchVars(prID, typeID, day string) map[string]any {
	return map[string]any{"practitionerId": prID, "appointmentTypeId": typeID, "from": day, "to": day}
}

// bookThrough books through the router (retrying while booking has not
// heard of the schedule yet) and returns the appointment id.
func bookThrough(t testing.TB, s *stack, token, prID, typeID string, at time.Time, key string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := s.client.Do(context.Background(), token, s.op(t, "BookAppointment"), bookVars(prID, typeID, at, key))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) == 0 {
			var out bookResult
			if err := res.Decode(&out); err != nil {
				t.Fatal(err)
			}
			return out.BookAppointment.Appointment.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("book %s: %v", at, res.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cancelThrough(t testing.TB, s *stack, token, id string) {
	t.Helper()
	s.run(t, token, s.op(t, "CancelAppointment"), map[string]any{"input": map[string]any{"appointmentId": id, "reason": "changed my mind"}}, nil)
}

// waitSlots reads messages until one satisfies ok, or fails after within.
func waitSlots(t testing.TB, sub *wsclient.Sub, within time.Duration, what string, ok func(slotsChanged) bool) slotsChanged {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, open := <-sub.C:
			if !open {
				t.Fatalf("%s: subscription closed", what)
			}
			if u := decodeSlots(t, m); ok(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("%s: not seen in %s", what, within)
		}
	}
}

// TestWatchSlotsWithGraphQLWS: the npm graphql-ws client (a third-party
// graphql-transport-ws implementation, run by node) subscribes to the
// contract's WatchSlots through the router; it first gets the current slots,
// then the list without a slot booked through the router, then with it
// again once the booking is cancelled.
func TestWatchSlotsWithGraphQLWS(t *testing.T) {
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		t.Skip("node and npm are needed for the graphql-ws client test (not found on PATH)")
	}
	dir := filepath.Join("..", "..", "e2e", "ws")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws")); err != nil {
		out, err := exec.Command(npm, "--prefix", dir, "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci in e2e/ws: %v\n%s", err, out)
		}
	}
	s := startStack(t)
	prID, typeID, _, day := livePractice(t, s, "Graphqlws")
	_, patTok := registerPatient(t, s, "Nodeclient")

	vars, _ := json.Marshal(watchVars(prID, typeID, day))
	cmd := exec.Command(node, filepath.Join(dir, "watch.mjs"))
	cmd.Env = append(os.Environ(), "WS_URL="+s.wsURL(), "WS_QUERY="+s.op(t, "WatchSlots"), "WS_VARIABLES="+string(vars))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = stdin.Close() // the script ends when its stdin does
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) slotsChanged {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: the client exited; stderr: %s", what, stderr.String())
			}
			var msg struct {
				Type    string
				Payload struct {
					Data   slotsChanged
					Errors []any
				}
				Error any
			}
			if err := json.Unmarshal([]byte(l), &msg); err != nil {
				t.Fatalf("%s: %v: %s", what, err, l)
			}
			if msg.Type != "next" || len(msg.Payload.Errors) > 0 {
				t.Fatalf("%s: %s", what, l)
			}
			return msg.Payload.Data
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: nothing in 20s; stderr: %s", what, stderr.String())
		}
		return slotsChanged{}
	}

	first := next("current slots")
	if first.SlotsChanged.PractitionerID != prID || first.key() != slotsKey(listSlots(t, s, prID, typeID, day)) {
		t.Fatalf("first message differs from availableSlots: %d slots", len(first.SlotsChanged.Slots))
	}
	ten := tomorrowAt(10, 0).UTC()
	if !first.starts()[ten] {
		t.Fatal("10:00 not open to start with")
	}
	id := bookThrough(t, s, patTok, prID, typeID, ten, "node-1")
	if u := next("after booking"); u.starts()[ten] {
		t.Fatal("the booked slot is still in the next message")
	}
	cancelThrough(t, s, patTok, id)
	if u := next("after cancelling"); !u.starts()[ten] {
		t.Fatal("the cancelled slot did not come back")
	}
}

// TestWatchSlotsAndAgendaThroughTheRouter: WatchSlots and WatchAgenda with
// the Go client through the router: the practitioner (and their secretary)
// see BOOKED and CANCELLED as a patient books and cancels, a patient
// subscribing to the agenda gets FORBIDDEN, and a second availability
// instance on the same Redis delivers the booking made through the router
// as the router's instance does.
func TestWatchSlotsAndAgendaThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, typeID, prTok, day := livePractice(t, s, "Agenda")
	_, patTok := registerPatient(t, s, "Agendapatient")
	secTok := s.token(t, auth.RoleSecretary, "sec-"+prID, prID)
	ctx := t.Context()

	// A second availability instance sharing Redis (no consumers: it only
	// serves), subscribed to directly.
	rdbOpts, err := redis.ParseURL(s.cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(rdbOpts)
	t.Cleanup(func() { _ = rdb.Close() })
	second, err := availability.New(ctx, availability.Deps{Redis: rdb, KeyPrefix: s.cfg.RedisPrefix, Countries: countries.MustDefault(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	srv := httptest.NewServer(second.Handler())
	t.Cleanup(srv.Close)

	viaRouter, err := dialWS(t, s.wsURL(), "").Subscribe(ctx, s.op(t, "WatchSlots"), watchVars(prID, typeID, day), 16)
	if err != nil {
		t.Fatal(err)
	}
	viaSecond, err := dialWS(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", "").Subscribe(ctx, `subscription($practitionerId: ID!, $appointmentTypeId: ID!, $from: Date!, $to: Date!) {
  slotsChanged(practitionerId: $practitionerId, appointmentTypeId: $appointmentTypeId, from: $from, to: $to) { practitionerId slots { startsAt endsAt location { id } } }
}`, watchVars(prID, typeID, day), 16)
	if err != nil {
		t.Fatal(err)
	}
	want := slotsKey(listSlots(t, s, prID, typeID, day))
	for _, sub := range []*wsclient.Sub{viaRouter, viaSecond} {
		if got := nextSlotsMsg(t, sub, 10*time.Second); got.key() != want {
			t.Fatalf("first message differs from availableSlots (%d slots)", len(got.SlotsChanged.Slots))
		}
	}
	if st := second.LiveStats(); st.Subscribers != 1 || st.Channels != 1 {
		t.Fatalf("second instance: %+v", st)
	}

	agenda, err := dialWS(t, s.wsURL(), prTok).Subscribe(ctx, s.op(t, "WatchAgenda"), map[string]any{"practitionerId": prID}, 16)
	if err != nil {
		t.Fatal(err)
	}
	secAgenda, err := dialWS(t, s.wsURL(), secTok).Subscribe(ctx, s.op(t, "WatchAgenda"), map[string]any{"practitionerId": prID}, 16)
	if err != nil {
		t.Fatal(err)
	}
	forbidden, err := dialWS(t, s.wsURL(), patTok).Subscribe(ctx, s.op(t, "WatchAgenda"), map[string]any{"practitionerId": prID}, 4)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-forbidden.C:
		if len(m.Errors) == 0 || m.Errors[0].Code() != "FORBIDDEN" {
			t.Fatalf("a patient's WatchAgenda: %+v %s", m, m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a patient's WatchAgenda: no answer")
	}
	// The agenda subscriptions are live once Redis confirmed them; give the
	// router a moment to have forwarded them.
	time.Sleep(300 * time.Millisecond)

	at := tomorrowAt(11, 0).UTC()
	id := bookThrough(t, s, patTok, prID, typeID, at, "agenda-1")
	for name, sub := range map[string]*wsclient.Sub{"router": viaRouter, "second instance": viaSecond} {
		waitSlots(t, sub, 20*time.Second, name+": booked slot leaves", func(u slotsChanged) bool { return !u.starts()[at] })
	}
	type change struct {
		AgendaChanged struct {
			Change      string
			Appointment struct {
				ID, Status       string
				StartsAt, EndsAt time.Time
			}
		}
	}
	nextChange := func(sub *wsclient.Sub) change {
		t.Helper()
		select {
		case m := <-sub.C:
			if m.Done || len(m.Errors) > 0 {
				t.Fatalf("agenda: %+v", m)
			}
			var c change
			if err := json.Unmarshal(m.Data, &c); err != nil {
				t.Fatal(err)
			}
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("agenda: nothing in 20s")
		}
		return change{}
	}
	for _, sub := range []*wsclient.Sub{agenda, secAgenda} {
		c := nextChange(sub)
		if c.AgendaChanged.Change != "BOOKED" || c.AgendaChanged.Appointment.ID != id || c.AgendaChanged.Appointment.Status != "CONFIRMED" ||
			!c.AgendaChanged.Appointment.StartsAt.Equal(at) || c.AgendaChanged.Appointment.EndsAt.Sub(at) != 20*time.Minute {
			t.Fatalf("agenda change %+v", c)
		}
	}
	cancelThrough(t, s, patTok, id)
	if c := nextChange(agenda); c.AgendaChanged.Change != "CANCELLED" || c.AgendaChanged.Appointment.Status != "CANCELLED" || c.AgendaChanged.Appointment.ID != id {
		t.Fatalf("agenda change %+v", c)
	}
	for name, sub := range map[string]*wsclient.Sub{"router": viaRouter, "second instance": viaSecond} {
		waitSlots(t, sub, 20*time.Second, name+": cancelled slot returns", func(u slotsChanged) bool { return u.starts()[at] })
	}
	_ = viaSecond.Stop(ctx)
	waitFor(t, "second instance idle", func() bool { st := second.LiveStats(); return st.Subscribers == 0 && st.Channels == 0 })
}

// TestWatchSlotsSoak: clients subscribe and unsubscribe again and again
// through the router (often resubscribing the same subscription at once,
// sometimes dropping the whole connection), while patients book and
// cancel. Every subscriber still open at the end converges to the true
// list (availableSlots), and once everyone left, Redis has no channel of
// these practitioners and the process's goroutines are back to baseline.
func TestWatchSlotsSoak(t *testing.T) {
	s := startStack(t)
	const practices = 3
	type practice struct{ id, typeID, day string }
	var ps []practice
	for i := range practices {
		id, typeID, _, day := livePractice(t, s, fmt.Sprintf("Soak%d", i))
		ps = append(ps, practice{id, typeID, day})
	}
	var patients []string
	for i := range 4 {
		_, tok := registerPatient(t, s, fmt.Sprintf("Soaker%d", i))
		patients = append(patients, tok)
	}
	rdbOpts, _ := redis.ParseURL(s.cfg.RedisURL)
	rdb := redis.NewClient(rdbOpts)
	t.Cleanup(func() { _ = rdb.Close() })
	channels := func() int {
		n := 0
		for _, p := range ps {
			res, err := rdb.PubSubNumSub(t.Context(), s.cfg.RedisPrefix+"avail-changes:"+p.id).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res {
				if c > 0 {
					n++
				}
			}
		}
		return n
	}
	query := s.op(t, "WatchSlots")

	// Warm up the router's and the subgraph's connections, then measure.
	warm := dialWS(t, s.wsURL(), "")
	sub, err := warm.Subscribe(t.Context(), query, watchVars(ps[0].id, ps[0].typeID, ps[0].day), 4)
	if err != nil {
		t.Fatal(err)
	}
	nextSlotsMsg(t, sub, 10*time.Second)
	_ = sub.Stop(t.Context())
	_ = warm.Close()
	waitFor(t, "warm-up subscription gone", func() bool { return channels() == 0 })
	time.Sleep(200 * time.Millisecond)
	baseline, baselineLive := runtime.NumGoroutine(), liveGoroutines()

	// Bookers: book and cancel hourly starts of tomorrow, at random.
	stop := make(chan struct{})
	var bookers sync.WaitGroup
	var booked, cancelled, routerRetries, lostConns atomic.Int64
	for b := range len(patients) {
		bookers.Add(1)
		go func() {
			defer bookers.Done()
			r := rand.New(rand.NewPCG(uint64(b), 7))
			var mine []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := ps[r.IntN(len(ps))]
				if len(mine) > 0 && r.IntN(2) == 0 {
					id := mine[0]
					mine = mine[1:]
					res, err := s.client.Do(context.Background(), patients[b], s.op(t, "CancelAppointment"),
						map[string]any{"input": map[string]any{"appointmentId": id, "reason": "soak"}})
					if err == nil && len(res.Errors) == 0 {
						cancelled.Add(1)
					}
					continue
				}
				at := tomorrowAt(8+r.IntN(12), 0)
				var out bookResult
				res, err := s.client.Do(context.Background(), patients[b], s.op(t, "BookAppointment"), bookVars(p.id, p.typeID, at, fmt.Sprintf("soak-%d-%d", b, i)))
				if err == nil && len(res.Errors) == 0 && res.Decode(&out) == nil {
					mine = append(mine, out.BookAppointment.Appointment.ID)
					booked.Add(1)
				}
				time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
			}
		}()
	}

	// Subscribers: each cycle subscribes, reads a few messages for a short
	// while, then unsubscribes and (mostly) resubscribes the same thing
	// within 200 ms; every fifth cycle drops the whole connection.
	const clients, cycles = 12, 15
	finals := make([]*wsclient.Sub, clients)
	finalPractice := make([]practice, clients)
	finalFirst := make([]string, clients)
	conns := make([]*wsclient.Conn, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	deadline := time.Now().Add(25 * time.Second)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 11))
			ctx := context.Background()
			conn, err := wsclient.Dial(ctx, s.wsURL(), nil)
			if err != nil {
				errs <- err
				return
			}
			// reconnect replaces a connection that ended; false (the error
			// reported) if it cannot.
			reconnect := func(cycle int) bool {
				lostConns.Add(1)
				t.Logf("client %d cycle %d: connection lost (%v); reconnecting", c, cycle, conn.Err())
				if conn, err = wsclient.Dial(ctx, s.wsURL(), nil); err != nil {
					errs <- err
					return false
				}
				return true
			}
			p := ps[c%len(ps)]
			for i := 0; i < cycles && time.Now().Before(deadline); i++ {
				var sub *wsclient.Sub
				var first slotsChanged
				for attempt := 0; ; attempt++ {
					if sub, err = conn.Subscribe(ctx, query, watchVars(p.id, p.typeID, p.day), 64); err != nil {
						// The router closed the whole connection while this
						// client held it ("Normal closure": Cosmo closes a
						// client's socket when the shared upstream trigger of
						// one of its subscriptions closes); reconnect, as
						// clients do.
						if conn.Err() == nil || attempt >= 3 {
							errs <- err
							return
						}
						if !reconnect(i) {
							return
						}
						continue
					}
					var m wsclient.Message
					var open bool
					select {
					case m, open = <-sub.C:
						if !open && attempt < 3 { // the connection ended: reconnect, as clients do
							if !reconnect(i) {
								return
							}
							continue
						}
					case <-time.After(10 * time.Second):
						errs <- fmt.Errorf("client %d cycle %d: no first message", c, i)
						return
					}
					// The router (Cosmo 0.258.3, net poll off) sometimes ends a
					// subscription that resubscribes the very same operation its
					// connection just completed, at once ("complete", or an error
					// "Client disconnected"), before anything reached the
					// subgraph; a client retries.
					if m.Done && (len(m.Errors) == 0 || m.Errors[0].Message == "Client disconnected") && attempt < 3 {
						routerRetries.Add(1)
						continue
					}
					if m.Done || len(m.Errors) > 0 || json.Unmarshal(m.Data, &first) != nil {
						errs <- fmt.Errorf("client %d cycle %d: first message %+v", c, i, m)
						return
					}
					break
				}
				if i == cycles-1 || !time.Now().Before(deadline) {
					finals[c], finalPractice[c], finalFirst[c] = sub, p, first.key()
					break
				}
				hold := time.After(time.Duration(r.IntN(300)) * time.Millisecond)
			read:
				for {
					select {
					case _, open := <-sub.C:
						if !open { // the connection ended; the next cycle reconnects
							break read
						}
					case <-hold:
						break read
					}
				}
				_ = sub.Stop(ctx)
				switch {
				case i%5 == 4: // drop the connection, reconnect
					_ = conn.Close()
					if conn, err = wsclient.Dial(ctx, s.wsURL(), nil); err != nil {
						errs <- err
						return
					}
				case r.IntN(3) == 0: // another practice next time
					p = ps[r.IntN(len(ps))]
				default: // the same subscription again, at once or within 200 ms
					time.Sleep(time.Duration(r.IntN(200)) * time.Millisecond)
				}
			}
			conns[c] = conn
		}()
	}
	wg.Wait()
	close(stop)
	bookers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("soak: %d bookings, %d cancellations; %d subscriptions retried after the router ended them at once; %d connections lost",
		booked.Load(), cancelled.Load(), routerRetries.Load(), lostConns.Load())
	if booked.Load() == 0 {
		t.Fatal("no booking went through during the soak")
	}

	// Every live subscriber converges to the truth.
	var live int
	var routerEnded atomic.Int32
	for c, sub := range finals {
		if sub == nil {
			continue
		}
		live++
		p := finalPractice[c]
		latest := finalFirst[c]
		eventually(t, fmt.Sprintf("subscriber %d converges", c), func() string {
			for {
				select {
				case m, open := <-sub.C:
					if (!open || m.Done && len(m.Errors) == 0) && routerEnded.Add(1) <= 3 {
						// The router ended the subscription (the known race on a
						// just-resubscribed operation), or closed the whole
						// connection: a client subscribes again, on a new
						// connection if needed, and starts from the current list.
						var err error
						if conns[c].Err() != nil {
							if conns[c], err = wsclient.Dial(context.Background(), s.wsURL(), nil); err != nil {
								t.Fatal(err)
							}
						}
						if sub, err = conns[c].Subscribe(context.Background(), query, watchVars(p.id, p.typeID, p.day), 64); err != nil {
							t.Fatal(err)
						}
						finals[c] = sub
						continue
					}
					latest = decodeSlots(t, m).key()
					continue
				default:
				}
				break
			}
			if latest != slotsKey(listSlots(t, s, p.id, p.typeID, p.day)) {
				return "latest message differs from availableSlots"
			}
			return ""
		})
	}
	if live == 0 {
		t.Fatal("no subscriber left at the end")
	}
	for c, sub := range finals {
		if sub != nil {
			_ = sub.Stop(context.Background())
		}
		if conns[c] != nil {
			_ = conns[c].Close()
		}
	}
	waitFor(t, "redis channels released", func() bool { return channels() == 0 })
	// The subscription machinery's goroutines (hub, resolvers, the subgraph's
	// and the router's WebSocket connections, the test clients) are all gone;
	// the process total is reported (HTTP keep-alive pools grew meanwhile).
	waitFor(t, "subscription goroutines back to baseline", func() bool { return liveGoroutines() <= baselineLive })
	t.Logf("soak: %d live subscribers converged; subscription goroutines %d (baseline %d); all goroutines %d (baseline %d)",
		live, liveGoroutines(), baselineLive, runtime.NumGoroutine(), baseline)
}

// liveGoroutines counts the goroutines serving subscriptions: the hubs, the
// subgraph resolvers and WebSocket connections, the router's WebSocket
// handlers and upstream subscription connections, the test clients.
func liveGoroutines() int {
	var buf strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	n := 0
	for _, g := range strings.Split(buf.String(), "\n\n") {
		for _, marker := range []string{"internal/livehub", "subgraphs/availability/graph", "subgraphs/booking/graph.(*subscriptionResolver)",
			"gqlgen/graphql/handler/transport.(*wsConnection)", "cosmo/router/core.(*WebSocketConnectionHandler)",
			"graphql_datasource.(*gqlTWSConnectionHandler)", "resolve.(*sub).startWorker"} {
			if strings.Contains(g, marker) {
				n++
				break
			}
		}
	}
	return n
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
