// Package livehub fans Redis pub/sub channels out to in-process subscribers
// (design §6): one Redis connection per hub (a single go-redis PubSub) that
// SUBSCRIBEs a channel when its first local subscriber arrives and
// UNSUBSCRIBEs it when the last one leaves. A subscriber has a small buffer
// with drop-oldest semantics, so a slow one never blocks the others; with a
// buffer of one it always holds the latest message ("latest wins"), which is
// what a subscriber needs when every message means "recompute the state".
package livehub

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrClosed is returned by Subscribe once the hub is closed.
var ErrClosed = errors.New("livehub: closed")

// Resync is the payload delivered to every subscriber after the hub lost its
// Redis connection (messages may have been missed meanwhile): a subscriber
// should recompute its state.
var Resync = []byte(nil)

// DefaultReadyTimeout bounds how long Subscribe waits for Redis to confirm a
// new channel subscription.
const DefaultReadyTimeout = 5 * time.Second

// pingEvery is how long the reader waits for a message before it pings the
// connection (a dead connection is then noticed and replaced).
const pingEvery = 30 * time.Second

// Hub is one Redis pub/sub connection shared by the subscribers of a process.
type Hub struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu       sync.Mutex
	ps       *redis.PubSub
	channels map[string]*channel
	// seq counts the SUBSCRIBE commands sent and confirmed per channel name
	// (Redis confirms in order on one connection), so a subscriber knows when
	// its own SUBSCRIBE took effect.
	seq    map[string]*counter
	closed bool
	done   chan struct{} // closed when the reader stopped

	subscribers atomic.Int64
	delivered   atomic.Int64
	dropped     atomic.Int64
}

type counter struct{ sent, confirmed int64 }

type channel struct {
	name    string
	subs    map[*Subscription]struct{}
	seq     int64         // the SUBSCRIBE that made it
	ready   chan struct{} // closed once Redis confirmed that SUBSCRIBE
	isReady bool
}

// Subscription is one subscriber's view of a channel. C receives the
// channel's messages (Resync after a reconnection); it is never closed.
type Subscription struct {
	C       <-chan []byte
	c       chan []byte
	hub     *Hub
	ch      *channel
	once    sync.Once
	dropped atomic.Int64
}

// New returns a hub over rdb; it connects on the first Subscribe.
func New(rdb redis.UniversalClient, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{rdb: rdb, log: logger, channels: map[string]*channel{}, seq: map[string]*counter{}}
}

// Stats are the hub's counters.
type Stats struct {
	// Subscribers is the number of live local subscriptions.
	Subscribers int64
	// Channels is the number of Redis channels the hub is subscribed to.
	Channels int
	// Delivered counts messages handed to subscribers; Dropped those
	// replaced in a full buffer by a newer one.
	Delivered, Dropped int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.channels)
	h.mu.Unlock()
	return Stats{Subscribers: h.subscribers.Load(), Channels: n, Delivered: h.delivered.Load(), Dropped: h.dropped.Load()}
}

// Subscribe registers a subscriber on a Redis channel with a buffer of
// buffer messages (at least one; when full, the oldest is dropped). It
// returns once Redis confirmed the channel subscription, so whatever the
// caller reads afterwards is covered by the messages that follow. Close the
// subscription when done.
func (h *Hub) Subscribe(ctx context.Context, name string, buffer int) (*Subscription, error) {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan []byte, buffer)
	sub := &Subscription{C: c, c: c, hub: h}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	ch := h.channels[name]
	if ch == nil {
		if err := h.start(); err != nil {
			h.mu.Unlock()
			return nil, err
		}
		cnt := h.seq[name]
		if cnt == nil {
			cnt = &counter{}
			h.seq[name] = cnt
		}
		cnt.sent++
		ch = &channel{name: name, subs: map[*Subscription]struct{}{}, seq: cnt.sent, ready: make(chan struct{})}
		// The write happens under h.mu, so SUBSCRIBE and UNSUBSCRIBE of a
		// channel reach Redis in the order the hub decided them.
		if err := h.ps.Subscribe(context.WithoutCancel(ctx), name); err != nil {
			cnt.sent--
			h.mu.Unlock()
			return nil, err
		}
		h.channels[name] = ch
	}
	ch.subs[sub] = struct{}{}
	sub.ch = ch
	h.subscribers.Add(1)
	liveSubscribers.Inc()
	ready := ch.ready
	h.mu.Unlock()

	t := time.NewTimer(DefaultReadyTimeout)
	defer t.Stop()
	select {
	case <-ready:
		return sub, nil
	case <-ctx.Done():
		sub.Close()
		return nil, ctx.Err()
	case <-t.C:
		sub.Close()
		return nil, errors.New("livehub: redis did not confirm the subscription")
	}
}

// start opens the PubSub and its reader (h.mu held).
func (h *Hub) start() error {
	if h.ps != nil {
		return nil
	}
	h.ps = h.rdb.Subscribe(context.Background())
	h.done = make(chan struct{})
	go h.read(h.ps, h.done)
	return nil
}

// Close leaves the channel; safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() { s.hub.leave(s) })
}

// Dropped is the number of messages this subscriber lost to newer ones.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

func (h *Hub) leave(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subscribers.Add(-1)
	liveSubscribers.Dec()
	ch := s.ch
	delete(ch.subs, s)
	if len(ch.subs) > 0 || h.channels[ch.name] != ch {
		return
	}
	delete(h.channels, ch.name)
	if h.closed || h.ps == nil {
		return
	}
	if err := h.ps.Unsubscribe(context.Background(), ch.name); err != nil {
		h.log.Warn("livehub: unsubscribe", "channel", ch.name, "err", err)
	}
}

// Close stops the hub: its reader and its Redis connection. Subscriptions
// still open receive nothing more.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	ps, done := h.ps, h.done
	h.mu.Unlock()
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-done
	return err
}

// read receives from Redis until the PubSub is closed.
func (h *Hub) read(ps *redis.PubSub, done chan struct{}) {
	defer close(done)
	ctx := context.Background()
	lost := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			if h.isClosed() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if perr := ps.Ping(ctx); perr != nil {
					lost = true
				}
				continue
			}
			// go-redis reconnects and resubscribes on the next receive;
			// messages published meanwhile are lost.
			if !lost {
				h.log.Warn("livehub: redis pub/sub connection lost; reconnecting", "err", err)
			}
			lost = true
			// A cluster client picks the node to reconnect to from its view
			// of the cluster, which nothing else may refresh for a minute
			// after a failover: refresh it now.
			if c, ok := h.rdb.(interface{ ReloadState(context.Context) }); ok {
				c.ReloadState(ctx)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if lost {
			lost = false
			h.log.Info("livehub: redis pub/sub reconnected; subscribers resync")
			h.broadcast(Resync)
		}
		switch m := msg.(type) {
		case *redis.Message:
			h.deliver(m.Channel, []byte(m.Payload))
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.confirm(m.Channel)
			}
		case *redis.Pong:
		}
	}
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// confirm records a SUBSCRIBE confirmation and wakes the subscribers of the
// channel it made.
func (h *Hub) confirm(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cnt := h.seq[name]
	if cnt == nil {
		return // a resubscription after a reconnect
	}
	if cnt.confirmed < cnt.sent {
		cnt.confirmed++
	}
	if ch := h.channels[name]; ch != nil && !ch.isReady && cnt.confirmed >= ch.seq {
		ch.isReady = true
		close(ch.ready)
	}
	if cnt.confirmed >= cnt.sent && h.channels[name] == nil {
		delete(h.seq, name)
	}
}

func (h *Hub) deliver(name string, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.channels[name]
	if ch == nil || !ch.isReady {
		return
	}
	for s := range ch.subs {
		h.push(s, payload)
	}
}

func (h *Hub) broadcast(payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.channels {
		for s := range ch.subs {
			h.push(s, payload)
		}
	}
}

// push hands payload to s without ever blocking: when the buffer is full
// the oldest message makes room (h.mu held: the hub is the only sender).
func (h *Hub) push(s *Subscription, payload []byte) {
	for {
		select {
		case s.c <- payload:
			h.delivered.Add(1)
			liveDelivered.Inc()
			return
		default:
		}
		select {
		case <-s.c:
			s.dropped.Add(1)
			h.dropped.Add(1)
			liveDropped.Inc()
		default:
		}
	}
}
