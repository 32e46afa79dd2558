package system

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/internal/livehub/wsclient"
	"github.com/careslot/careslot/internal/loadgen"
)

const watchSubscription = `subscription($practitionerId: ID!, $appointmentTypeId: ID!, $from: Date!, $to: Date!) { slotsChanged(practitionerId: $practitionerId, appointmentTypeId: $appointmentTypeId, from: $from, to: $to) { practitionerId slots { startsAt endsAt location { id } } } }`

// Watcher is a live client of slotsChanged through the router, as the
// patient web app is: when its subscription ends or its connection drops it
// subscribes again, and it keeps the latest list it was sent.
type Watcher struct {
	Practice loadgen.Practice
	From, To string
	url      string
	cancel   context.CancelFunc
	done     chan struct{}

	mu       sync.Mutex
	latest   string
	messages int
	lastAt   time.Time
	// Resubscribed counts the subscriptions after the first.
	Resubscribed atomic.Int64
}

// Watch starts a watcher of p's slots between from and to (dates).
func (s *System) Watch(p loadgen.Practice, from, to string) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{Practice: p, From: from, To: to, url: "ws://" + s.RouterAddr + "/graphql", cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	for n := 0; ctx.Err() == nil; n++ {
		if n > 0 {
			w.Resubscribed.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := wsclient.Dial(dctx, w.url, nil)
		cancel()
		if err != nil {
			continue
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		sub, err := conn.Subscribe(ctx, watchSubscription, map[string]any{"practitionerId": w.Practice.ID,
			"appointmentTypeId": w.Practice.TypeID, "from": w.From, "to": w.To}, 16)
		if err == nil {
			for m := range sub.C {
				if m.Done || len(m.Errors) > 0 {
					break
				}
				var out struct {
					SlotsChanged struct{ Slots []slotJSON }
				}
				if json.Unmarshal(m.Data, &out) == nil {
					w.mu.Lock()
					w.latest = slotsKey(out.SlotsChanged.Slots)
					w.messages++
					w.lastAt = m.Received
					w.mu.Unlock()
				}
			}
		}
		stop()
		_ = conn.Close()
	}
}

// Latest is the last list the watcher received ("" before any).
func (w *Watcher) Latest() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

// Close stops the watcher.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

type slotJSON struct {
	StartsAt, EndsAt time.Time
	Location         struct{ ID string }
}

func slotsKey(ss []slotJSON) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%d-%d-%s,", s.StartsAt.Unix(), s.EndsAt.Unix(), s.Location.ID)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Stats describes what the watcher received, for a failure's log.
func (w *Watcher) Stats() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d messages, the last at %s, %d resubscriptions", w.messages, w.lastAt.Format("15:04:05.000"), w.Resubscribed.Load())
}
