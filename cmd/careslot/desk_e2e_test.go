package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/uid"
)

type deskAppointment struct {
	ID, Status  string
	StartsAt    time.Time
	PatientName string
	DeskPatient *struct{ ID, Email string }
}

// TestDeskThroughTheRouter: a secretary records a caller who has no account
// (twice: one record) and books them; the caller's confirmation is stored
// for their address; the secretary moves one appointment and cancels
// another, and the caller is told of each. Another practice cannot see the
// record nor book for it. The person then registers: with an address their
// provider does not vouch for, nothing is claimed; with a verified one and
// the same birth date, the record is theirs and the moved appointment is
// in their own upcoming appointments.
func TestDeskThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Hélène", "Garnier")
	openEveryDay(t, s, prTok, locID, typeID)
	secTok := s.token(t, auth.RoleSecretary, "sec-"+uid.New(), prID)
	mail := fmt.Sprintf("lea.roux.%d@example.org", time.Now().UnixNano())

	record := func(address string) (string, bool) {
		t.Helper()
		var out struct {
			RecordDeskPatient struct {
				Created     bool
				DeskPatient struct{ ID, Email string }
			}
		}
		s.run(t, secTok, s.op(t, "RecordDeskPatient"), map[string]any{"practitionerId": prID, "input": map[string]any{
			"firstName": "Léa", "lastName": "Roux", "birthDate": "1975-05-06", "email": address}}, &out)
		if out.RecordDeskPatient.DeskPatient.Email != mail {
			t.Fatalf("recorded %+v", out)
		}
		return out.RecordDeskPatient.DeskPatient.ID, out.RecordDeskPatient.Created
	}
	desk, created := record(mail)
	if again, createdAgain := record(strings.ToUpper(mail)); !created || createdAgain || again != desk {
		t.Fatalf("recorded twice: %s (%v), %s (%v)", desk, created, again, createdAgain)
	}

	bookAtDesk := func(at time.Time, key string) deskAppointment {
		t.Helper()
		vars := map[string]any{"input": map[string]any{"practitionerId": prID, "appointmentTypeId": typeID,
			"startsAt": at.Format(time.RFC3339), "deskPatientId": desk, "idempotencyKey": key}}
		deadline := time.Now().Add(20 * time.Second)
		for {
			res, err := s.client.Do(context.Background(), secTok, s.op(t, "BookAtDesk"), vars)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) == 0 {
				var out struct {
					BookAtDesk struct{ Appointment deskAppointment }
				}
				if err := res.Decode(&out); err != nil {
					t.Fatal(err)
				}
				return out.BookAtDesk.Appointment
			}
			if time.Now().After(deadline) {
				t.Fatalf("book at the desk %s: %v", at, res.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	kept := bookAtDesk(tomorrowAt(10, 0), "desk-1")
	if kept.PatientName != "Léa Roux" || kept.DeskPatient == nil || kept.DeskPatient.ID != desk || kept.DeskPatient.Email != mail {
		t.Fatalf("desk booking %+v", kept)
	}
	if retry := bookAtDesk(tomorrowAt(10, 0), "desk-1"); retry.ID != kept.ID {
		t.Fatalf("the retry booked again: %s, %s", retry.ID, kept.ID)
	}
	dropped := bookAtDesk(tomorrowAt(14, 0), "desk-2")

	// The caller is told on their address: the confirmation of each booking.
	notes, err := postgres.Connect(context.Background(), withParam(s.cfg.DatabaseURLs["notification"], "pool_max_conns=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer notes.Close()
	sent := func(kind string, want int) {
		t.Helper()
		eventually(t, kind+" for "+mail, func() string {
			var n int
			if err := notes.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE recipient = $1 AND kind = $2
				AND channel = 'EMAIL' AND status = 'SENT'`, mail, kind).Scan(&n); err != nil {
				return err.Error()
			}
			if n != want {
				return fmt.Sprintf("%d sent", n)
			}
			return ""
		})
	}
	sent("CONFIRMATION", 2)

	// The secretary moves one and cancels the other.
	var moved struct {
		RescheduleAppointment struct {
			Appointment struct{ ID, Status string }
			Previous    struct{ StartsAt time.Time }
		}
	}
	s.run(t, secTok, s.op(t, "DeskRescheduleAppointment"), map[string]any{"input": map[string]any{"appointmentId": kept.ID,
		"startsAt": tomorrowAt(11, 0).Format(time.RFC3339), "idempotencyKey": "move-1"}}, &moved)
	if moved.RescheduleAppointment.Appointment.ID != kept.ID || !moved.RescheduleAppointment.Previous.StartsAt.Equal(tomorrowAt(10, 0)) {
		t.Fatalf("moved %+v", moved)
	}
	var cancelled struct {
		CancelAppointment struct {
			Appointment struct{ Status, CancelledBy string }
		}
	}
	s.run(t, secTok, s.op(t, "DeskCancelAppointment"), map[string]any{"input": map[string]any{"appointmentId": dropped.ID,
		"reason": "the caller phoned to cancel"}}, &cancelled)
	if c := cancelled.CancelAppointment.Appointment; c.Status != "CANCELLED" || c.CancelledBy != "PRACTITIONER" {
		t.Fatalf("cancelled %+v", c)
	}
	sent("RESCHEDULED", 1)
	sent("CANCELLED", 1)

	// The agenda names the record.
	var agenda struct {
		MyPractice struct{ Agenda []deskAppointment }
	}
	day := tomorrowAt(0, 0).Format(time.DateOnly)
	s.run(t, secTok, s.op(t, "DeskAgenda"), map[string]any{"practitionerId": prID, "from": day, "to": day}, &agenda)
	if i := slices.IndexFunc(agenda.MyPractice.Agenda, func(a deskAppointment) bool { return a.ID == kept.ID }); i < 0 ||
		agenda.MyPractice.Agenda[i].DeskPatient == nil || agenda.MyPractice.Agenda[i].DeskPatient.Email != mail {
		t.Fatalf("agenda %+v", agenda.MyPractice.Agenda)
	}

	// Another practice sees nothing of it and cannot book for it.
	otherID, otherLoc, otherType, otherTok := registerPractice(t, s, "Paul", "Lefort")
	openEveryDay(t, s, otherTok, otherLoc, otherType)
	otherSec := s.token(t, auth.RoleSecretary, "sec-"+uid.New(), otherID)
	if codes := s.errorCodes(t, otherSec, s.op(t, "DeskPatients"), map[string]any{"practitionerId": prID}); !slices.Equal(codes, []string{"FORBIDDEN"}) {
		t.Fatalf("another practice lists ours: %v", codes)
	}
	var theirs struct {
		DeskPatients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	s.run(t, otherSec, s.op(t, "DeskPatients"), map[string]any{"practitionerId": otherID, "search": mail}, &theirs)
	if len(theirs.DeskPatients.Edges) != 0 {
		t.Fatalf("another practice finds our record: %+v", theirs)
	}
	if codes := s.errorCodes(t, otherSec, s.op(t, "BookAtDesk"), map[string]any{"input": map[string]any{"practitionerId": otherID,
		"appointmentTypeId": otherType, "startsAt": tomorrowAt(12, 0).Format(time.RFC3339), "deskPatientId": desk,
		"idempotencyKey": "theirs"}}); !slices.Equal(codes, []string{"NOT_FOUND"}) {
		t.Fatalf("another practice books for our record: %v", codes)
	}

	// The person registers. An address their provider does not vouch for claims nothing.
	claimed := func() bool {
		t.Helper()
		var out struct {
			DeskPatients struct {
				Edges []struct{ Node struct{ Claimed bool } }
			}
		}
		s.run(t, secTok, s.op(t, "DeskPatients"), map[string]any{"practitionerId": prID, "search": mail}, &out)
		if len(out.DeskPatients.Edges) != 1 {
			t.Fatalf("the practice's search: %+v", out)
		}
		return out.DeskPatients.Edges[0].Node.Claimed
	}
	register := func(verified bool, address string) string {
		t.Helper()
		tok, err := s.key.Mint(auth.TokenClaims{Subject: "pa-" + uid.New(), Role: auth.RolePatient, Issuer: s.cfg.OIDCIssuer,
			Audience: s.cfg.OIDCAudience, Email: mail, EmailVerified: verified}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s.run(t, tok, s.op(t, "RegisterPatient"), map[string]any{"input": map[string]any{
			"firstName": "Léa", "lastName": "Roux", "email": address, "birthDate": "1975-05-06", "country": "fr"}}, nil)
		return tok
	}
	register(false, "someone."+mail)
	if claimed() {
		t.Fatal("an unverified address claimed the record")
	}
	// A verified one, the same birth date: the record and its appointments are theirs.
	tok := register(true, mail)
	if !claimed() {
		t.Fatal("the verified address did not claim the record")
	}
	eventually(t, "the moved appointment in the account's appointments", func() string {
		var mine struct {
			Me struct {
				Appointments struct {
					Edges []struct {
						Node struct {
							ID, Status string
							StartsAt   time.Time
						}
					}
				}
			}
		}
		s.run(t, tok, s.op(t, "MyAppointments"), map[string]any{"upcoming": true}, &mine)
		edges := mine.Me.Appointments.Edges
		if len(edges) != 1 || edges[0].Node.ID != kept.ID || edges[0].Node.Status != "CONFIRMED" || !edges[0].Node.StartsAt.Equal(tomorrowAt(11, 0)) {
			return fmt.Sprintf("%+v", edges)
		}
		return ""
	})
}

// withParam adds a query parameter to a connection URL.
func withParam(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}
