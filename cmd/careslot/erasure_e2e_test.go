package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/postgres"
)

// TestErasureFreesSlotsThroughTheRouter: a patient with two appointments
// tomorrow erases their account through the router. A live subscriber sees
// both slots return, another patient books one of them, the practice reads
// why in its notifications, and each service's tables, read by SQL, keep
// nothing of the patient but the anonymised appointments.
func TestErasureFreesSlotsThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, typeID, prTok, day := livePractice(t, s, "Efface")
	gone, goneTok := registerPatient(t, s, "Erin")
	nine, ten := tomorrowAt(9, 0), tomorrowAt(10, 0)
	ids := []string{bookThrough(t, s, goneTok, prID, typeID, nine, "erase-9"), bookThrough(t, s, goneTok, prID, typeID, ten, "erase-10")}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := dialWS(t, s.wsURL(), "").Subscribe(ctx, s.op(t, "WatchSlots"), watchVars(prID, typeID, day), 16)
	if err != nil {
		t.Fatal(err)
	}
	waitSlots(t, sub, 20*time.Second, "the booked slots gone", func(m slotsChanged) bool {
		st := m.starts()
		return len(st) > 0 && !st[nine.UTC()] && !st[ten.UTC()]
	})

	var del struct{ DeleteMyAccount struct{ Deleted bool } }
	s.run(t, goneTok, s.op(t, "DeleteMyAccount"), nil, &del)
	erased := time.Now()
	if !del.DeleteMyAccount.Deleted {
		t.Fatal("not deleted")
	}

	// Another patient books a freed slot as soon as booking has the erasure.
	_, nextTok := registerPatient(t, s, "Noor")
	for {
		res, err := s.client.Do(context.Background(), nextTok, s.op(t, "BookAppointment"), bookVars(prID, typeID, nine, "after-erasure"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) == 0 {
			break
		}
		if time.Since(erased) > 20*time.Second {
			t.Fatalf("the erased patient's slot is still taken: %v", res.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("another patient booked the erased patient's slot %s after deleteMyAccount returned", time.Since(erased).Round(time.Millisecond))
	waitSlots(t, sub, 20*time.Second, "the erased patient's 10:00 back in the live list", func(m slotsChanged) bool {
		return m.starts()[ten.UTC()]
	})
	t.Logf("the live subscriber saw the freed slot %s after deleteMyAccount returned", time.Since(erased).Round(time.Millisecond))

	// The practice is told, without the patient's name.
	eventually(t, "the practice told", func() string {
		var out struct {
			Practitioner struct {
				PracticeNotifications struct {
					Edges []struct {
						Node struct{ Kind, AppointmentID, Reason string }
					}
				}
			}
		}
		s.run(t, prTok, `query($id: ID!) { practitioner(id: $id) { practiceNotifications(first: 10) { edges { node { kind appointmentId reason } } } } }`,
			map[string]any{"id": prID}, &out)
		told := map[string]bool{}
		for _, e := range out.Practitioner.PracticeNotifications.Edges {
			if e.Node.Kind == "CANCELLED_BY_PATIENT" && e.Node.Reason == "PATIENT_ERASED" {
				told[e.Node.AppointmentID] = true
			}
		}
		if !told[ids[0]] || !told[ids[1]] {
			return fmt.Sprintf("told %v", out.Practitioner.PracticeNotifications.Edges)
		}
		return ""
	})

	// Every store, by SQL: nothing of the patient is left; the appointments
	// stay, cancelled and anonymised, for the practice's records.
	checks := map[string][]string{
		"patient": {`SELECT count(*) FROM patients WHERE id = $1`, `SELECT count(*) FROM relative_guardians WHERE patient_id = $1`},
		"booking": {`SELECT count(*) FROM appointments WHERE patient_id = $1 OR person_id = $1`,
			`SELECT count(*) FROM idempotency_keys WHERE subject = $1`, `SELECT count(*) FROM booking_counts WHERE patient_id = $1`,
			`SELECT count(*) FROM person_appointments WHERE person_id = $1`,
			`SELECT count(*) FROM patients WHERE id = $1 AND (first_name <> '' OR last_name <> '' OR phone IS NOT NULL OR erased_at IS NULL)`},
		"notification": {`SELECT count(*) FROM messages WHERE patient_id = $1`, `SELECT count(*) FROM appointments WHERE patient_id = $1`,
			`SELECT count(*) FROM patients WHERE id = $1 AND (email IS NOT NULL OR phone IS NOT NULL OR first_name IS NOT NULL OR erased_at IS NULL)`},
	}
	for service, queries := range checks {
		dsn := s.cfg.DatabaseURLs[service]
		if strings.Contains(dsn, "?") {
			dsn += "&pool_max_conns=1"
		} else {
			dsn += "?pool_max_conns=1"
		}
		pool, err := postgres.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			eventually(t, service+": "+q, func() string {
				var n int
				if err := pool.QueryRow(context.Background(), q, gone).Scan(&n); err != nil {
					return err.Error()
				}
				if n != 0 {
					return fmt.Sprintf("%d rows", n)
				}
				return ""
			})
		}
		if service == "booking" {
			var n int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM appointments WHERE id = ANY($1::uuid[])
				AND status = 'CANCELLED' AND cancellation_reason = 'PATIENT_ERASED' AND note IS NULL AND idempotency_key IS NULL`, ids).Scan(&n); err != nil || n != 2 {
				t.Fatalf("%d of the 2 appointments kept, cancelled and anonymised (%v)", n, err)
			}
		}
		pool.Close()
	}
}
