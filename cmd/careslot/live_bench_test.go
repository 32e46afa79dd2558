package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/livehub/wsclient"
)

// BenchmarkBookingToSubscriber measures, through the router, the time from a
// booking's commit (the mutation's response) to the first WatchSlots
// message without the booked slot at the subscribers of that practitioner,
// with 1,000 subscriptions open over 50 practitioners (20 each, on 50
// connections), over at least 500 sequential bookings. It reports p50/p99
// per message and per booking (its last subscriber), and the heap the open
// subscriptions hold (router, subgraph and client, all in this process).
//
//	go test -run '^$' -bench BookingToSubscriber -benchtime 1x ./cmd/careslot/
func BenchmarkBookingToSubscriber(b *testing.B) {
	const practitioners, perPractitioner, conns = 50, 20, 50
	bookings := max(b.N, 500)
	s := startStack(b)
	type practice struct {
		id, typeID, day, patTok string
		starts                  []time.Time
	}
	ps := make([]*practice, practitioners)
	for i := range ps {
		func() {
			id, typeID, _, day := livePractice(b, s, fmt.Sprintf("Bench%d", i))
			_, patTok := registerPatient(b, s, fmt.Sprintf("Benchpat%d", i))
			p := &practice{id: id, typeID: typeID, day: day, patTok: patTok}
			for h := 8; h < 20; h++ { // every half hour: 20 min + 5 min buffer never touch
				p.starts = append(p.starts, tomorrowAt(h, 0).UTC(), tomorrowAt(h, 30).UTC())
			}
			ps[i] = p
		}()
	}
	if need := (bookings + practitioners - 1) / practitioners; need > len(ps[0].starts) {
		b.Fatalf("%d bookings need %d starts per practitioner; %d available", bookings, need, len(ps[0].starts))
	}
	// Booking learns schedules from events: one warm-up booking each.
	for _, p := range ps {
		bookThrough(b, s, p.patTok, p.id, p.typeID, p.starts[len(p.starts)-1], "warm-"+p.id)
		p.starts = p.starts[:len(p.starts)-1]
	}
	time.Sleep(time.Second)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// pending[p] is the start booked at practitioner p and not yet seen gone
	// by each of its subscribers, with the instant the booking committed.
	type waiter struct {
		start    time.Time
		sent     time.Time
		commit   time.Time
		lat      []time.Duration
		fromSend []time.Duration
		left     int
		done     chan struct{}
	}
	var mu sync.Mutex
	pending := map[string]*waiter{}
	seen := func(pid string, m wsclient.Message) {
		var u slotsChanged
		if json.Unmarshal(m.Data, &u) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w := pending[pid]
		if w == nil || w.left == 0 || u.starts()[w.start] {
			return
		}
		w.left--
		w.lat = append(w.lat, m.Received.Sub(w.commit))
		w.fromSend = append(w.fromSend, m.Received.Sub(w.sent))
		if w.left == 0 {
			close(w.done)
		}
	}
	ctx := context.Background()
	query := s.op(b, "WatchSlots")
	var clients []*wsclient.Conn
	for c := range conns {
		conn := dialWS(b, s.wsURL(), "")
		clients = append(clients, conn)
		for j := range perPractitioner * practitioners / conns {
			p := ps[(c*perPractitioner*practitioners/conns+j)%practitioners]
			sub, err := conn.Subscribe(ctx, query, watchVars(p.id, p.typeID, p.day), 16)
			if err != nil {
				b.Fatal(err)
			}
			select {
			case m := <-sub.C:
				if m.Done || len(m.Errors) > 0 {
					b.Fatalf("subscribe: %+v", m)
				}
			case <-time.After(20 * time.Second):
				b.Fatalf("connection %d, subscription %d (practitioner %d): no first message", c, j, (c*perPractitioner*practitioners/conns+j)%practitioners)
			}
			go func() {
				for m := range sub.C {
					seen(p.id, m)
				}
			}()
		}
	}
	runtime.GC()
	var held runtime.MemStats
	runtime.ReadMemStats(&held)

	var perMsg, perBooking, perMsgSend []time.Duration
	b.ResetTimer()
	for k := range bookings {
		p := ps[k%practitioners]
		start := p.starts[k/practitioners]
		w := &waiter{start: start, left: perPractitioner, done: make(chan struct{})}
		mu.Lock()
		pending[p.id] = w
		w.sent = time.Now()
		mu.Unlock()
		id := bookThrough(b, s, p.patTok, p.id, p.typeID, start, fmt.Sprintf("bench-%d", k))
		commit := time.Now()
		mu.Lock()
		w.commit = commit
		// Messages that beat the response count from the response (0).
		for i := range w.lat {
			w.lat[i] = max(0, w.fromSend[i]-commit.Sub(w.sent))
		}
		mu.Unlock()
		_ = id
		select {
		case <-w.done:
		case <-time.After(20 * time.Second):
			b.Fatalf("booking %d: %d subscribers never saw it", k, w.left)
		}
		mu.Lock()
		for i := range w.lat {
			w.lat[i] = max(0, w.lat[i])
		}
		perMsg = append(perMsg, w.lat...)
		perMsgSend = append(perMsgSend, w.fromSend...)
		perBooking = append(perBooking, slices.Max(w.lat))
		delete(pending, p.id)
		mu.Unlock()
	}
	b.StopTimer()
	pct := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	b.ReportMetric(float64(pct(perMsg, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(perMsg, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pct(perBooking, 0.99).Microseconds())/1000, "p99-last-subscriber-ms")
	heldKB := (float64(held.HeapInuse) - float64(before.HeapInuse)) / 1024
	b.ReportMetric(heldKB/float64(practitioners*perPractitioner), "heap-KB/subscription")
	b.Logf("%d bookings, %d subscriptions (%d practitioners x %d, %d connections), %d messages timed",
		bookings, practitioners*perPractitioner, practitioners, perPractitioner, conns, len(perMsg))
	b.Logf("commit (mutation response) -> subscriber: p50 %s, p90 %s, p99 %s, max %s",
		pct(perMsg, 0.5), pct(perMsg, 0.9), pct(perMsg, 0.99), slices.Max(perMsg))
	b.Logf("per booking, last of its %d subscribers: p50 %s, p99 %s", perPractitioner, pct(perBooking, 0.5), pct(perBooking, 0.99))
	b.Logf("mutation sent -> subscriber: p50 %s, p99 %s", pct(perMsgSend, 0.5), pct(perMsgSend, 0.99))
	b.Logf("heap held by the open subscriptions: %.0f KB in all, %.1f KB each (router + subgraph + client)", heldKB, heldKB/float64(practitioners*perPractitioner))
	for _, c := range clients {
		_ = c.Close()
	}
}
