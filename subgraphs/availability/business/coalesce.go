package business

import (
	"context"
	"sync"
	"time"

	"github.com/careslot/careslot/internal/slots"
)

// listings coalesces the recomputations that one change triggers: every
// watcher of the same listing gets the change at once, and one Redis read and
// one slots.Open can answer them all. A watcher only shares a computation that
// started after it received its message, so it never gets a list older than
// the change it was told about.
type listings struct {
	mu      sync.Mutex
	flights map[SlotsQuery]*listingFlight
}

type listingFlight struct {
	started time.Time
	done    chan struct{}
	list    []slots.Slot
	err     error
}

// list returns q's current listing, computed after since.
func (l *listings) list(ctx context.Context, s *Service, q SlotsQuery, since time.Time) ([]slots.Slot, error) {
	l.mu.Lock()
	if l.flights == nil {
		l.flights = map[SlotsQuery]*listingFlight{}
	}
	f, ok := l.flights[q]
	if !ok || f.started.Before(since) {
		f = &listingFlight{started: time.Now(), done: make(chan struct{})}
		l.flights[q] = f
		l.mu.Unlock()
		out, errs := s.ListSlots(context.WithoutCancel(ctx), []SlotsQuery{q})
		f.list, f.err = out[0], errs[0]
		close(f.done)
		l.mu.Lock()
		if l.flights[q] == f {
			delete(l.flights, q)
		}
		l.mu.Unlock()
		return f.list, f.err
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.list, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
