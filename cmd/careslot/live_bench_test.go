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
	// Each patient books at most (warm-up + bookings/practitioners) / patientsPerPractice + 1
	// times with its practice on that day: 3 with 500 bookings, under every country's limit (4).
	patientsPerPractice := max(4, (bookings/practitioners+1+2)/3)
	s := startStack(b)
	type practice struct {
		id, typeID, day string
		// patToks book in turn: the country's limit of bookings per
		// account, practice and day must never refuse one.
		patToks []string
		starts  []time.Time
	}
	ps := make([]*practice, practitioners)
	for i := range ps {
		func() {
			id, typeID, _, day := livePractice(b, s, fmt.Sprintf("Bench%d", i))
			p := &practice{id: id, typeID: typeID, day: day}
			for j := range patientsPerPractice {
				_, tok := registerPatient(b, s, fmt.Sprintf("Benchpat%d-%d", i, j))
				p.patToks = append(p.patToks, tok)
			}
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
		bookThrough(b, s, p.patToks[0], p.id, p.typeID, p.starts[len(p.starts)-1], "warm-"+p.id)
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
	// A subscriber that sees no message without the booked slot within
	// missedAfter counts as missed (reported, not fatal: the figure to read).
	const missedAfter = 5 * time.Second
	missed := 0
	b.ResetTimer()
	for k := range bookings {
		p := ps[k%practitioners]
		start := p.starts[k/practitioners]
		w := &waiter{start: start, left: perPractitioner, done: make(chan struct{})}
		mu.Lock()
		pending[p.id] = w
		w.sent = time.Now()
		mu.Unlock()
		id := bookThrough(b, s, p.patToks[(k/practitioners+1)%len(p.patToks)], p.id, p.typeID, start, fmt.Sprintf("bench-%d", k))
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
		case <-time.After(missedAfter):
		}
		mu.Lock()
		for i := range w.lat {
			w.lat[i] = max(0, w.lat[i])
		}
		perMsg = append(perMsg, w.lat...)
		perMsgSend = append(perMsgSend, w.fromSend...)
		if w.left == 0 {
			perBooking = append(perBooking, slices.Max(w.lat))
		} else {
			missed += w.left
			b.Logf("booking %d: %d of its %d subscribers saw no message without the slot within %s", k, w.left, perPractitioner, missedAfter)
		}
		w.left = 0 // late messages of this booking no longer count
		delete(pending, p.id)
		mu.Unlock()
	}
	b.StopTimer()
	if len(perMsg) == 0 || len(perBooking) == 0 {
		b.Fatalf("no booking reached all its subscribers (%d messages missed)", missed)
	}
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
	b.ReportMetric(float64(missed), "missed-messages")
	b.Logf("%d bookings, %d subscriptions (%d practitioners x %d, %d connections), %d messages timed, %d missed",
		bookings, practitioners*perPractitioner, practitioners, perPractitioner, conns, len(perMsg), missed)
	b.Logf("commit (mutation response) -> subscriber: p50 %s, p90 %s, p99 %s, max %s",
		pct(perMsg, 0.5), pct(perMsg, 0.9), pct(perMsg, 0.99), slices.Max(perMsg))
	b.Logf("per booking, last of its %d subscribers: p50 %s, p99 %s", perPractitioner, pct(perBooking, 0.5), pct(perBooking, 0.99))
	b.Logf("mutation sent -> subscriber: p50 %s, p99 %s", pct(perMsgSend, 0.5), pct(perMsgSend, 0.99))
	b.Logf("heap held by the open subscriptions: %.0f KB in all, %.1f KB each (router + subgraph + client)", heldKB, heldKB/float64(practitioners*perPractitioner))
	for _, c := range clients {
		_ = c.Close()
	}
}
