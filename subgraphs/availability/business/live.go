package business

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/internal/slots"
)

// SlotsWatch follows one listing (design §6): Initial is the list when the
// watch started, and Next blocks until the list differs from the last one
// returned. It listens on the practitioner's channel through the process's
// hub (one Redis connection for all watches) and recomputes the listing,
// exactly as ListSlots does, on every change that may touch its dates.
type SlotsWatch struct {
	Initial []slots.Slot

	s     *Service
	q     SlotsQuery
	sub   *livehub.Subscription
	dates map[string]bool // the dates whose change can change the list
	last  []slots.Slot
	// recheckAt is when to list again without a message (zero: never),
	// set each time the list is computed.
	recheckAt time.Time
}

// ErrNoHub is returned by WatchSlots when the service has no hub.
var ErrNoHub = errors.New("availability: live slots need Redis pub/sub (no hub)")

// WatchSlots validates q like ListSlots, subscribes to the practitioner's
// changes (confirmed by Redis before anything is read, so no change falls
// between the first list and the messages), then lists the slots. Close the
// watch when done.
func (s *Service) WatchSlots(ctx context.Context, q SlotsQuery) (*SlotsWatch, error) {
	if s.hub == nil {
		return nil, ErrNoHub
	}
	if err := ValidateRange(q.From, q.To); err != nil {
		return nil, err
	}
	sub, err := s.st.SubscribeChanges(ctx, s.hub, q.PractitionerID)
	if err != nil {
		return nil, err
	}
	w := &SlotsWatch{s: s, q: q, sub: sub, dates: map[string]bool{}}
	f, _ := parseDate(q.From)
	t, _ := parseDate(q.To)
	for _, d := range dateRange(f.add(-1), t.add(1)) {
		w.dates[d] = true
	}
	if w.Initial, err = w.list(ctx); err != nil {
		sub.Close()
		return nil, err
	}
	w.last = w.Initial
	w.listed()
	return w, nil
}

// Close ends the watch (its channel subscription included).
func (w *SlotsWatch) Close() { w.sub.Close() }

// Next waits for a change of the list and returns the new list; it returns
// ctx's error when ctx ends. A failed recomputation (Redis failing over, say)
// is tried again, sooner when another message comes, until it succeeds: the
// change it was told about may be the last one for a long time. Without a
// message for the service's recheck interval it lists again anyway (see
// DefaultLiveRecheck), and returns only if the list changed.
func (w *SlotsWatch) Next(ctx context.Context) ([]slots.Slot, error) {
	retry := time.Duration(0) // 0: wait for a message
	for {
		if retry == 0 {
			var recheck <-chan time.Time // nil: never
			if !w.recheckAt.IsZero() {
				recheck = time.After(time.Until(w.recheckAt))
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case msg := <-w.sub.C:
				if !w.concerns(msg) {
					continue
				}
			case <-recheck:
			}
		} else {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-w.sub.C:
			case <-time.After(retry):
			}
		}
		cur, err := w.s.live.list(ctx, w.s, w.q, time.Now())
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			retry = min(max(2*retry, 50*time.Millisecond), 2*time.Second)
			w.s.log.Warn("live slots: recompute failed; retrying", "practitioner", w.q.PractitionerID, "retry_in", retry, "err", err)
			continue
		}
		retry = 0
		w.listed()
		if sameList(cur, w.last) {
			continue
		}
		w.last = cur
		return cur, nil
	}
}

// listed records that the list was just computed: the next recheck is the
// service's interval from now, give or take a fifth, so that watchers
// started together (a router reconnecting them all, say) do not list again
// together.
func (w *SlotsWatch) listed() {
	if d := w.s.recheck; d > 0 {
		w.recheckAt = time.Now().Add(d - d/5 + rand.N(2*d/5+1))
	}
}

// concerns reports whether a change message may change the list: a change
// without dates (or unreadable, or a resync) always may.
func (w *SlotsWatch) concerns(msg []byte) bool {
	if msg == nil {
		return true
	}
	var a eventdata.Availability
	if err := json.Unmarshal(msg, &a); err != nil || len(a.ChangedDates) == 0 {
		return true
	}
	return slices.ContainsFunc(a.ChangedDates, func(d string) bool { return w.dates[d] })
}

func (w *SlotsWatch) list(ctx context.Context) ([]slots.Slot, error) {
	out, errs := w.s.ListSlots(ctx, []SlotsQuery{w.q})
	return out[0], errs[0]
}

func sameList(a, b []slots.Slot) bool {
	return slices.EqualFunc(a, b, func(x, y slots.Slot) bool {
		return x.Start.Equal(y.Start) && x.End.Equal(y.End) && x.LocationID == y.LocationID
	})
}

// LiveStats are the hub's counters (zero without a hub).
func (s *Service) LiveStats() livehub.Stats {
	if s.hub == nil {
		return livehub.Stats{}
	}
	return s.hub.Stats()
}
