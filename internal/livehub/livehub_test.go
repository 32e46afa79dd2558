package livehub_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/internal/testenv"
)

func recv(t *testing.T, s *livehub.Subscription) string {
	t.Helper()
	select {
	case m := <-s.C:
		return string(m)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
		return ""
	}
}

func quiet(t *testing.T, s *livehub.Subscription) {
	t.Helper()
	select {
	case m := <-s.C:
		t.Fatalf("unexpected message %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}

// redisChannels lists the channels under prefix that Redis has subscribers for.
func redisChannels(t *testing.T, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	chs, err := testenv.PubSubChannels(t.Context(), rdb, prefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(chs)
	return chs
}

func TestRefcountsAndFanOut(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	hub := livehub.New(rdb, nil)
	defer hub.Close()
	ctx := t.Context()
	a, b := prefix+"a", prefix+"b"

	s1, err := hub.Subscribe(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := hub.Subscribe(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := hub.Subscribe(ctx, b, 4)
	if err != nil {
		t.Fatal(err)
	}
	if st := hub.Stats(); st.Subscribers != 3 || st.Channels != 2 {
		t.Fatalf("stats %+v", st)
	}
	if got := redisChannels(t, rdb, prefix); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("redis channels %v", got)
	}
	// Subscribe returns once the subscription is live: a publish right after
	// it is received.
	rdb.Publish(ctx, a, "x1")
	if recv(t, s1) != "x1" || recv(t, s2) != "x1" {
		t.Fatal("fan-out")
	}
	quiet(t, s3)

	// The channel stays while one subscriber is left.
	s1.Close()
	s1.Close() // idempotent
	if got := redisChannels(t, rdb, prefix); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("redis channels after one left %v", got)
	}
	rdb.Publish(ctx, a, "x2")
	if recv(t, s2) != "x2" {
		t.Fatal("remaining subscriber")
	}
	// The last one leaving unsubscribes.
	s2.Close()
	waitFor(t, func() bool { return slices.Equal(redisChannels(t, rdb, prefix), []string{b}) })
	if st := hub.Stats(); st.Subscribers != 1 || st.Channels != 1 {
		t.Fatalf("stats %+v", st)
	}
	s3.Close()
	waitFor(t, func() bool { return len(redisChannels(t, rdb, prefix)) == 0 })
	if st := hub.Stats(); st.Subscribers != 0 || st.Channels != 0 {
		t.Fatalf("stats %+v", st)
	}
	// And a new subscriber on the same channel is served again.
	s4, err := hub.Subscribe(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s4.Close()
	rdb.Publish(ctx, a, "x3")
	if recv(t, s4) != "x3" {
		t.Fatal("resubscribed")
	}
}

func TestLatestWins(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	hub := livehub.New(rdb, nil)
	defer hub.Close()
	ctx := t.Context()
	ch := prefix + "p"
	slow, err := hub.Subscribe(ctx, ch, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := hub.Subscribe(ctx, ch, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	queue, err := hub.Subscribe(ctx, ch, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	// The fast subscriber reads everything while the slow one reads nothing.
	for i := range 20 {
		rdb.Publish(ctx, ch, fmt.Sprint(i))
		if got := recv(t, fast); got != fmt.Sprint(i) {
			t.Fatalf("fast got %q, want %d", got, i)
		}
	}
	// The slow one holds only the latest; the queue the three latest.
	if got := recv(t, slow); got != "19" {
		t.Fatalf("slow got %q", got)
	}
	quiet(t, slow)
	if slow.Dropped() != 19 {
		t.Fatalf("slow dropped %d", slow.Dropped())
	}
	for _, want := range []string{"17", "18", "19"} {
		if got := recv(t, queue); got != want {
			t.Fatalf("queue got %q, want %s", got, want)
		}
	}
}

// TestNoLeaks: many subscribe/unsubscribe cycles over a few channels,
// concurrently, with messages flowing; afterwards the goroutines, the
// hub's counters and Redis's channels are back where they started.
func TestNoLeaks(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	hub := livehub.New(rdb, nil)
	defer hub.Close()
	ctx := t.Context()

	// Warm up: the hub's reader and the connection exist from the first use.
	s, err := hub.Subscribe(ctx, prefix+"warm", 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	waitFor(t, func() bool { return len(redisChannels(t, rdb, prefix)) == 0 })
	baseline := runtime.NumGoroutine()

	stop := make(chan struct{})
	var pubs sync.WaitGroup
	pubs.Add(1)
	go func() {
		defer pubs.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rdb.Publish(ctx, fmt.Sprintf("%sc%d", prefix, i%5), "m")
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	const workers, cycles = 16, 100
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range cycles {
				sub, err := hub.Subscribe(ctx, fmt.Sprintf("%sc%d", prefix, (w+i)%5), 1)
				if err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					select {
					case <-sub.C:
					case <-time.After(5 * time.Millisecond):
					}
				}
				sub.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	pubs.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := hub.Stats(); st.Subscribers != 0 || st.Channels != 0 {
		t.Fatalf("stats after %d cycles: %+v", workers*cycles, st)
	}
	waitFor(t, func() bool { return len(redisChannels(t, rdb, prefix)) == 0 })
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline })
	t.Logf("goroutines: baseline %d, after %d", baseline, runtime.NumGoroutine())
}

func TestClose(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	before := runtime.NumGoroutine()
	hub := livehub.New(rdb, nil)
	s, err := hub.Subscribe(t.Context(), prefix+"x", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := hub.Subscribe(t.Context(), prefix+"x", 1); err != livehub.ErrClosed {
		t.Fatalf("after close: %v", err)
	}
	waitFor(t, func() bool { return len(redisChannels(t, rdb, prefix)) == 0 })
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
