package availability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/livehub/wsclient"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/availability"
)

const watchSlots = `subscription($pid: ID!, $type: ID!, $from: Date!, $to: Date!) {
  slotsChanged(practitionerId: $pid, appointmentTypeId: $type, from: $from, to: $to) {
    practitionerId
    slots { startsAt endsAt location { id } }
  }
}`

type slotsUpdate struct {
	SlotsChanged struct {
		PractitionerID string `json:"practitionerId"`
		Slots          []struct {
			StartsAt time.Time           `json:"startsAt"`
			EndsAt   time.Time           `json:"endsAt"`
			Location struct{ ID string } `json:"location"`
		} `json:"slots"`
	} `json:"slotsChanged"`
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

func next(t *testing.T, s *wsclient.Sub) slotsUpdate {
	t.Helper()
	select {
	case m, ok := <-s.C:
		if !ok || m.Done || len(m.Errors) > 0 {
			t.Fatalf("subscription ended or failed: %+v", m)
		}
		var u slotsUpdate
		if err := json.Unmarshal(m.Data, &u); err != nil {
			t.Fatal(err)
		}
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no message in 10s")
	}
	return slotsUpdate{}
}

func nothing(t *testing.T, s *wsclient.Sub, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.C:
		t.Fatalf("unexpected message %s", m.Data)
	case <-time.After(d):
	}
}

func sameAs(u slotsUpdate, want []slots.Slot) bool {
	if len(u.SlotsChanged.Slots) != len(want) {
		return false
	}
	for i, s := range u.SlotsChanged.Slots {
		if !s.StartsAt.Equal(want[i].Start) || !s.EndsAt.Equal(want[i].End) || s.Location.ID != want[i].LocationID {
			return false
		}
	}
	return true
}

// TestSlotsChangedAcrossInstances: two availability instances share Redis;
// a subscriber on either first gets the current slots, then the list
// without a slot booked through the other instance, then with it again
// after the cancellation; a change outside its range sends nothing; leaving
// releases the subscriptions and the Redis channels.
func TestSlotsChangedAcrossInstances(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	a := newEnvOn(t, rdb, prefix, nil, "")
	b := newEnvOn(t, rdb, prefix, nil, "")
	srvA := httptest.NewServer(a.sg.Handler())
	t.Cleanup(srvA.Close)
	srvB := httptest.NewServer(b.sg.Handler())
	t.Cleanup(srvB.Close)
	ctx := t.Context()

	p := snapshot("live1", 1)
	mustApplyP(t, a, p)
	vars := map[string]any{"pid": "live1", "type": "consult-live1", "from": date(0), "to": date(2)}
	before := list(t, a.svc, "live1", "consult-live1", date(0), date(2))

	var subs []*wsclient.Sub
	for _, srv := range []*httptest.Server{srvA, srvB} {
		conn, err := wsclient.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		s, err := conn.Subscribe(ctx, watchSlots, vars, 16)
		if err != nil {
			t.Fatal(err)
		}
		if u := next(t, s); !sameAs(u, before) || u.SlotsChanged.PractitionerID != "live1" {
			t.Fatalf("first message: %+v, want %d slots", u, len(before))
		}
		subs = append(subs, s)
	}
	if st := a.sg.LiveStats(); st.Subscribers != 1 || st.Channels != 1 {
		t.Fatalf("instance A stats %+v", st)
	}

	// Booked and cancelled through either instance (each publishes on Redis).
	booked := appointment(p, "ap1", "consult-live1", at(0, 9, 20), 1, eventdata.StatusConfirmed)
	mustApplyA(t, a, booked)
	after := list(t, a.svc, "live1", "consult-live1", date(0), date(2))
	if containsStart(after, at(0, 9, 20)) {
		t.Fatal("the booked slot is still listed")
	}
	for _, s := range subs {
		if u := next(t, s); !sameAs(u, after) {
			t.Fatalf("after booking: %d slots, want %d", len(u.SlotsChanged.Slots), len(after))
		}
	}
	cancelled := booked
	cancelled.Version, cancelled.Status = 2, eventdata.StatusCancelled
	mustApplyA(t, b, cancelled)
	for _, s := range subs {
		if u := next(t, s); !sameAs(u, before) {
			t.Fatalf("after cancelling: %d slots, want %d", len(u.SlotsChanged.Slots), len(before))
		}
	}
	// A booking outside the range changes nothing the subscribers see.
	mustApplyA(t, a, appointment(p, "ap2", "consult-live1", at(7, 9, 20), 1, eventdata.StatusConfirmed))
	for _, s := range subs {
		nothing(t, s, 300*time.Millisecond)
	}

	// Invalid input fails the subscription like the query.
	conn, err := wsclient.Dial(ctx, wsURL(srvA), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	bad, err := conn.Subscribe(ctx, watchSlots, map[string]any{"pid": "live1", "type": "nope", "from": date(0), "to": date(2)}, 4)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-bad.C:
		if len(m.Errors) == 0 || m.Errors[0].Code() != "INVALID_INPUT" {
			t.Fatalf("bad type: %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error for a bad type")
	}

	for _, s := range subs {
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool {
		sa, sb := a.sg.LiveStats(), b.sg.LiveStats()
		return sa.Subscribers == 0 && sa.Channels == 0 && sb.Subscribers == 0 && sb.Channels == 0
	})
	waitUntil(t, func() bool {
		chs, _ := testenv.PubSubChannels(ctx, rdb, prefix+"*")
		return len(chs) == 0
	})
}

// TestSlotsChangedLeavesNothingBehind: many subscribe/unsubscribe cycles
// (some closing the whole connection) return the goroutines, the hub's
// counters and Redis's channels to where they were.
func TestSlotsChangedLeavesNothingBehind(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnvOn(t, rdb, prefix, nil, "")
	srv := httptest.NewServer(e.sg.Handler())
	t.Cleanup(srv.Close)
	ctx := t.Context()
	for i := range 4 {
		mustApplyP(t, e, snapshot(fmt.Sprintf("leak%d", i), 1))
	}
	cycle := func(i int, closeConn bool) {
		conn, err := wsclient.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		var subs []*wsclient.Sub
		for j := range 5 {
			pid := fmt.Sprintf("leak%d", (i+j)%4)
			s, err := conn.Subscribe(ctx, watchSlots, map[string]any{"pid": pid, "type": "consult-" + pid, "from": date(0), "to": date(6)}, 4)
			if err != nil {
				t.Fatal(err)
			}
			next(t, s)
			subs = append(subs, s)
		}
		if !closeConn {
			for _, s := range subs {
				_ = s.Stop(ctx)
			}
		}
		conn.Close()
	}
	cycle(0, false) // warm up: the hub's connection and reader
	waitUntil(t, func() bool { return e.sg.LiveStats().Subscribers == 0 })
	baseline := runtime.NumGoroutine()
	for i := range 40 {
		cycle(i, i%2 == 0)
		if i%10 == 0 {
			mustApplyA(t, e, appointment(snapshot("leak0", 1), fmt.Sprintf("lk%d", i), "consult-leak0", at(1, 9, 20), 1, eventdata.StatusConfirmed))
		}
	}
	waitUntil(t, func() bool { st := e.sg.LiveStats(); return st.Subscribers == 0 && st.Channels == 0 })
	waitUntil(t, func() bool {
		chs, _ := testenv.PubSubChannels(ctx, rdb, prefix+"*")
		return len(chs) == 0
	})
	waitUntil(t, func() bool { return runtime.NumGoroutine() <= baseline })
	t.Logf("goroutines: baseline %d, after 200 subscriptions %d", baseline, runtime.NumGoroutine())
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSlotsChangedRechecksAfterALostMessage: a change whose message never
// reaches Redis (as Redis Cluster's pub/sub loses one while its bus links
// are re-established) still reaches a live listing, which lists again after
// the recheck interval without a message; with rechecks off it would not.
func TestSlotsChangedRechecksAfterALostMessage(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	single, ok := rdb.(*redis.Client)
	if !ok {
		t.Skip("drops PUBLISH on a second client of a single server")
	}
	a := newEnvWith(t, rdb, prefix, func(d *availability.Deps) { d.LiveRecheck = 300 * time.Millisecond })
	silent := redis.NewClient(single.Options())
	silent.AddHook(dropPublish{})
	t.Cleanup(func() { _ = silent.Close() })
	b := newEnvWith(t, silent, prefix, func(*availability.Deps) {})
	srv := httptest.NewServer(a.sg.Handler())
	t.Cleanup(srv.Close)
	ctx := t.Context()

	p := snapshot("recheck1", 1)
	mustApplyP(t, a, p)
	before := list(t, a.svc, "recheck1", "consult-recheck1", date(0), date(2))
	conn, err := wsclient.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := conn.Subscribe(ctx, watchSlots, map[string]any{"pid": "recheck1", "type": "consult-recheck1", "from": date(0), "to": date(2)}, 16)
	if err != nil {
		t.Fatal(err)
	}
	if u := next(t, s); !sameAs(u, before) {
		t.Fatalf("first message: %d slots, want %d", len(u.SlotsChanged.Slots), len(before))
	}
	// Unchanged rechecks send nothing.
	nothing(t, s, 800*time.Millisecond)

	// Booked through b, whose PUBLISH never reaches Redis.
	mustApplyA(t, b, appointment(p, "ap1", "consult-recheck1", at(0, 9, 20), 1, eventdata.StatusConfirmed))
	after := list(t, a.svc, "recheck1", "consult-recheck1", date(0), date(2))
	if containsStart(after, at(0, 9, 20)) {
		t.Fatal("the booked slot is still listed")
	}
	if u := next(t, s); !sameAs(u, after) {
		t.Fatalf("after the silent booking: %d slots, want %d", len(u.SlotsChanged.Slots), len(after))
	}
}

// dropPublish is a go-redis hook that never sends PUBLISH (alone or in a
// pipeline): a message lost between the publisher and the subscribers.
type dropPublish struct{}

func (dropPublish) DialHook(next redis.DialHook) redis.DialHook { return next }

func (dropPublish) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "publish" {
			return nil
		}
		return next(ctx, cmd)
	}
}

func (dropPublish) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return next(ctx, slices.DeleteFunc(slices.Clone(cmds), func(c redis.Cmder) bool { return c.Name() == "publish" }))
	}
}
