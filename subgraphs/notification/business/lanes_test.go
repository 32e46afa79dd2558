package business_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/sender"
)

// overlapSender holds each send until another patient's send is in flight too (or a second
// passes), and records every send that overlapped another of the same patient.
type overlapSender struct {
	mu         sync.Mutex
	inFlight   map[string]int // by recipient
	total      int
	met        chan struct{} // closed once two sends were in flight at once
	metOnce    sync.Once
	samePerson int
}

func (s *overlapSender) Send(ctx context.Context, m sender.Message) error {
	s.mu.Lock()
	s.inFlight[m.To]++
	if s.inFlight[m.To] > 1 {
		s.samePerson++
	}
	s.total++
	if s.total >= 2 {
		s.metOnce.Do(func() { close(s.met) })
	}
	s.mu.Unlock()
	select {
	case <-s.met:
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.inFlight[m.To]--
	s.total--
	s.mu.Unlock()
	return nil
}

// TestSenderSendsPatientsAtOnceAndEachOneAtATime: a batch's messages go out in lanes (with SES or
// SNS a send takes tens of milliseconds: one at a time, a worker sends a few dozen a second), but a
// patient's messages one after the other, in the order they were claimed.
func TestSenderSendsPatientsAtOnceAndEachOneAtATime(t *testing.T) {
	t.Parallel()
	out := &overlapSender{inFlight: map[string]int{}, met: make(chan struct{})}
	e := newEnv(t, func(o *business.Options) { o.Sender = out })
	pr := newPractice(t, e)
	ana := patient(t, e, "fr-FR", false, func(p *eventdata.Patient) { p.Email = "ana@example.fr" })
	ben := patient(t, e, "fr-FR", false, func(p *eventdata.Patient) { p.Email = "ben@example.fr" })
	for i, p := range []eventdata.Patient{ana, ana, ana, ben} {
		a := appointment(pr, p.ID, pr.paris, time.Date(2026, 3, 10+i, 8, 30, 0, 0, time.UTC))
		apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	}

	if got := sendDue(t, e); got != 4 {
		t.Fatalf("sent %d, want 4 confirmations", got)
	}
	select {
	case <-out.met:
	default:
		t.Fatal("no two sends were ever in flight at once: the batch went out one message at a time")
	}
	if out.samePerson != 0 {
		t.Fatalf("%d sends to one patient overlapped another to the same patient", out.samePerson)
	}
}
