package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/uid"
)

type waitlistResult struct {
	Me struct {
		Waitlist []struct {
			ID, Status         string
			CurrentAppointment *struct{ ID string }
			Offer              *struct {
				ID, Status          string
				StartsAt, ExpiresAt time.Time
			}
		}
	}
}

// myOffer waits until the patient's one waiting entry holds a live offer of start, and returns its id.
func myOffer(t *testing.T, s *stack, token string, start time.Time) string {
	t.Helper()
	var id string
	eventually(t, "the offer", func() string {
		var out waitlistResult
		s.run(t, token, s.op(t, "MyWaitlist"), nil, &out)
		if w := out.Me.Waitlist; len(w) == 1 && w[0].Offer != nil && w[0].Offer.Status == "OFFERED" && w[0].Offer.StartsAt.Equal(start) {
			id = w[0].Offer.ID
			return ""
		}
		return fmt.Sprintf("%+v", out.Me.Waitlist)
	})
	return id
}

// TestWaitlistThroughTheRouter: a patient with an appointment in the
// evening joins the waitlist for a morning slot; another patient cancels
// hers; the slot is held for the waiting patient, who is told (SLOT_OFFERED,
// with the deadline, in French, in Paris time) and accepts: her appointment
// moves onto it (same id, previous time) and its evening slot frees. A
// second waiting patient is offered a slot freed later and declines it with
// nobody left behind him: then it opens. A live subscriber to the
// practitioner's slots never sees an offered slot listed as open, and sees
// the declined one open at the end.
func TestWaitlistThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, typeID, _, day := livePractice(t, s, "Waitlist-"+uid.New()[:8])
	_, xTok := registerPatient(t, s, "Xaviere")
	_, aTok := registerPatient(t, s, "Amelie")
	_, cTok := registerPatient(t, s, "Cyril")
	_, yTok := registerPatient(t, s, "Yvon")
	slot, evening := tomorrowAt(10, 0).UTC(), tomorrowAt(17, 0).UTC()
	xID := bookThrough(t, s, xTok, prID, typeID, slot, "x-1")
	aID := bookThrough(t, s, aTok, prID, typeID, evening, "a-1")
	morning := func(current string) map[string]any {
		in := map[string]any{"practitionerId": prID, "appointmentTypeId": typeID, "latestDate": day,
			"earliestTime": "09:00", "latestTime": "12:00"}
		if current != "" {
			in["currentAppointmentId"] = current
		}
		return map[string]any{"input": in}
	}
	var joined struct {
		JoinWaitlist struct {
			Entry struct {
				ID, Status, EarliestTime, LatestTime string
				CurrentAppointment                   struct{ ID string }
			}
		}
	}
	s.run(t, aTok, s.op(t, "JoinWaitlist"), morning(aID), &joined)
	if e := joined.JoinWaitlist.Entry; e.Status != "WAITING" || e.CurrentAppointment.ID != aID || e.EarliestTime != "09:00" || e.LatestTime != "12:00" {
		t.Fatalf("joined %+v", e)
	}

	sub, err := dialWS(t, s.wsURL(), "").Subscribe(t.Context(), s.op(t, "WatchSlots"), watchVars(prID, typeID, day), 64)
	if err != nil {
		t.Fatal(err)
	}
	offered := map[time.Time]bool{slot: true}
	// Every message is checked: no start on offer is ever listed as open.
	watch := func(what string, ok func(slotsChanged) bool) {
		t.Helper()
		waitSlots(t, sub, 20*time.Second, what, func(u slotsChanged) bool {
			for start := range offered {
				if u.starts()[start] {
					t.Fatalf("%s listed as open while it is offered", start)
				}
			}
			return ok(u)
		})
	}
	watch("the first list", func(slotsChanged) bool { return true })

	// The cancellation frees the slot into the waiting patient's offer.
	cancelThrough(t, s, xTok, xID)
	offerID := myOffer(t, s, aTok, slot)
	if startsOf(listSlots(t, s, prID, typeID, day))[slot] {
		t.Fatal("availableSlots lists the offered slot")
	}
	// Someone books at 11:00: the subscriber hears of it, still without the offered slot.
	yID := bookThrough(t, s, yTok, prID, typeID, tomorrowAt(11, 0), "y-1")
	watch("11:00 booked", func(u slotsChanged) bool { return !u.starts()[tomorrowAt(11, 0).UTC()] })

	// Told: the slot, instead of the evening appointment, until the deadline.
	eventually(t, "the offer's notification", func() string {
		var out struct {
			Me struct {
				Notifications struct {
					Edges []struct {
						Node struct{ Kind, Channel, Status, Subject, Body string }
					}
				}
			}
		}
		s.run(t, aTok, `query { me { notifications(first: 10) { edges { node { kind channel status subject body } } } } }`, nil, &out)
		for _, e := range out.Me.Notifications.Edges {
			n := e.Node
			if n.Kind == "SLOT_OFFERED" && n.Channel == "EMAIL" && n.Status == "SENT" && strings.Contains(n.Subject, "à 10:00") &&
				strings.Contains(n.Body, "au lieu du") && strings.Contains(n.Body, "à 17:00") && strings.Contains(n.Body, "jusqu'au") {
				return ""
			}
		}
		return fmt.Sprintf("%+v", out.Me.Notifications.Edges)
	})

	// Accepted: the evening appointment moves onto the slot, and the evening opens.
	var accepted struct {
		AcceptSlotOffer struct {
			Appointment struct {
				ID, Status string
				StartsAt   time.Time
			}
			Previous struct{ StartsAt time.Time }
		}
	}
	s.run(t, aTok, s.op(t, "AcceptSlotOffer"), map[string]any{"offerId": offerID, "idempotencyKey": "accept-" + offerID}, &accepted)
	if a := accepted.AcceptSlotOffer; a.Appointment.ID != aID || !a.Appointment.StartsAt.Equal(slot) || a.Appointment.Status != "CONFIRMED" ||
		!a.Previous.StartsAt.Equal(evening) {
		t.Fatalf("accepted %+v", a)
	}
	if codes := s.errorCodes(t, aTok, s.op(t, "AcceptSlotOffer"), map[string]any{"offerId": offerID, "idempotencyKey": "another"}); len(codes) != 1 || codes[0] != "OFFER_UNAVAILABLE" {
		t.Fatalf("accepting twice: %v", codes)
	}
	delete(offered, slot) // booked now, by the patient who waited
	watch("the evening freed", func(u slotsChanged) bool { return u.starts()[evening] && !u.starts()[slot] })
	var mine struct {
		Me struct {
			Appointments struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	s.run(t, aTok, s.op(t, "MyAppointments"), map[string]any{"upcoming": true}, &mine)
	if e := mine.Me.Appointments.Edges; len(e) != 1 || e[0].Node.ID != aID {
		t.Fatalf("appointments after accepting: %+v", e)
	}

	// A second waiting patient: 11:00 frees into his offer; he declines; nobody is left: it opens.
	s.run(t, cTok, s.op(t, "JoinWaitlist"), morning(""), nil)
	eleven := tomorrowAt(11, 0).UTC()
	offered[eleven] = true
	cancelThrough(t, s, yTok, yID)
	cOffer := myOffer(t, s, cTok, eleven)
	bookThrough(t, s, yTok, prID, typeID, tomorrowAt(14, 0), "y-2")
	watch("14:00 booked", func(u slotsChanged) bool { return !u.starts()[tomorrowAt(14, 0).UTC()] })
	var declined struct {
		DeclineSlotOffer struct{ Offer struct{ ID, Status string } }
	}
	s.run(t, cTok, s.op(t, "DeclineSlotOffer"), map[string]any{"offerId": cOffer}, &declined)
	if declined.DeclineSlotOffer.Offer.Status != "DECLINED" {
		t.Fatalf("declined %+v", declined)
	}
	delete(offered, eleven)
	watch("the declined slot opens", func(u slotsChanged) bool { return u.starts()[eleven] })
	var waiting waitlistResult
	s.run(t, cTok, s.op(t, "MyWaitlist"), nil, &waiting)
	if w := waiting.Me.Waitlist; len(w) != 1 || w[0].Status != "WAITING" || w[0].Offer == nil || w[0].Offer.Status != "DECLINED" {
		t.Fatalf("the declining patient's waitlist: %+v", w)
	}
	_ = sub.Stop(t.Context())
}
