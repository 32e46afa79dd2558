package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/uid"
)

// connect opens one service's database of the stack (for checks and test setup only).
func connect(t *testing.T, s *stack, service string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.cfg.DatabaseURLs[service])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// seriesType saves a 30-minute type bookable four months ahead (ten weekly sessions reach
// further than the default 60 days) and returns its id.
func seriesType(t *testing.T, s *stack, token string) string {
	t.Helper()
	var out struct {
		SaveAppointmentType struct{ AppointmentType struct{ ID string } }
	}
	s.run(t, token, s.op(t, "SaveAppointmentType"), map[string]any{"input": map[string]any{
		"name": "Séance de kinésithérapie", "durationMinutes": 30, "visitMode": "IN_PERSON", "newPatientsAllowed": true,
		"onlineBookable": true, "minNoticeMinutes": 60, "bookingHorizonDays": 120,
	}}, &out)
	return out.SaveAppointmentType.AppointmentType.ID
}

type seriesSession struct {
	ID, Status string
	StartsAt   time.Time
	Series     *struct {
		ID           string
		Index, Count int
	}
}

// TestTreatmentSeriesThroughTheRouter: a patient books ten weekly sessions in one call; the
// agenda and `me` show each with its place in the series; one confirmation lists all ten
// (no per-session confirmation); cancelling the rest from session 6 leaves sessions 1 to 5.
func TestTreatmentSeriesThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, _, prTok := registerPractice(t, s, "Paul", "Kiné-"+uid.New()[:8])
	typeID := seriesType(t, s, prTok)
	openEveryDay(t, s, prTok, locID, typeID)
	patID, patTok := registerPatient(t, s, "Series")

	first := tomorrowAt(10, 0)
	vars := map[string]any{"input": map[string]any{"practitionerId": prID, "appointmentTypeId": typeID,
		"firstStartsAt": first.Format(time.RFC3339), "everyDays": 7, "count": 10, "idempotencyKey": "series-" + uid.New()}}
	var booked struct {
		BookSeries struct {
			SeriesID     string
			Appointments []seriesSession
		}
	}
	eventually(t, "booking the series (booking learns the practice from its events)", func() string {
		res, err := s.client.Do(context.Background(), patTok, s.op(t, "BookSeries"), vars)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Err(); err != nil {
			return err.Error()
		}
		if err := res.Decode(&booked); err != nil {
			t.Fatal(err)
		}
		return ""
	})
	sessions := booked.BookSeries.Appointments
	if len(sessions) != 10 {
		t.Fatalf("%d sessions", len(sessions))
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for i, a := range sessions {
		local := a.StartsAt.In(paris)
		if a.Series == nil || a.Series.ID != booked.BookSeries.SeriesID || a.Series.Index != i+1 || a.Series.Count != 10 ||
			a.Status != "CONFIRMED" || local.Hour() != 10 || local.Minute() != 0 || local.Weekday() != first.Weekday() {
			t.Fatalf("session %d: %+v at %s", i+1, a, local)
		}
	}
	// The same series booked again with the key: the same answer.
	var again struct{ BookSeries struct{ SeriesID string } }
	s.run(t, patTok, s.op(t, "BookSeries"), vars, &again)
	if again.BookSeries.SeriesID != booked.BookSeries.SeriesID {
		t.Fatalf("a retry booked series %s", again.BookSeries.SeriesID)
	}

	// The agenda (at most 62 days: sessions 1 to 9) and `me`.
	var agenda struct {
		MyPractice struct{ Agenda []seriesSession }
	}
	day := first.Format("2006-01-02")
	s.run(t, prTok, s.op(t, "SeriesAgenda"), map[string]any{"from": day, "to": first.AddDate(0, 0, 61).Format("2006-01-02")}, &agenda)
	if got := agenda.MyPractice.Agenda; len(got) != 9 || got[8].Series == nil || got[8].Series.Index != 9 || got[8].ID != sessions[8].ID {
		t.Fatalf("agenda %+v", got)
	}
	mine := func() []seriesSession {
		var me struct {
			Me struct {
				Appointments struct {
					Edges []struct{ Node seriesSession }
				}
			}
		}
		s.run(t, patTok, s.op(t, "MySeriesAppointments"), map[string]any{"upcoming": true, "first": 20}, &me)
		var out []seriesSession
		for _, e := range me.Me.Appointments.Edges {
			out = append(out, e.Node)
		}
		return out
	}
	if got := mine(); len(got) != 10 || got[0].Series == nil || got[0].Series.Count != 10 {
		t.Fatalf("me: %+v", got)
	}

	// One confirmation for the series (by e-mail and SMS, as the patient asked), listing the ten
	// sessions; none per session.
	var notes struct {
		Me struct {
			Notifications struct {
				Edges []struct {
					Node struct{ Kind, Channel, Status, Subject string }
				}
			}
		}
	}
	eventually(t, "the series' confirmation", func() string {
		s.run(t, patTok, s.op(t, "MyNotifications"), map[string]any{"first": 50}, &notes)
		var kinds []string
		for _, e := range notes.Me.Notifications.Edges {
			if e.Node.Kind != "REMINDER" {
				kinds = append(kinds, e.Node.Kind+"/"+e.Node.Channel+"/"+e.Node.Status)
			}
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, []string{"SERIES_CONFIRMATION/EMAIL/SENT", "SERIES_CONFIRMATION/SMS/SENT"}) {
			return fmt.Sprint(kinds)
		}
		return ""
	})
	var body string
	if err := connect(t, s, "notification").QueryRow(context.Background(), `SELECT body FROM messages
		WHERE patient_id = $1 AND kind = 'SERIES_CONFIRMATION' AND channel = 'EMAIL'`, patID).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(body, "\n- "); n != 10 || !strings.Contains(body, "10 rendez-vous") {
		t.Fatalf("the confirmation lists %d sessions:\n%s", n, body)
	}

	// Cancel the rest from session 6: sessions 1 to 5 remain.
	var cancelled struct {
		CancelSeries struct{ Appointments []seriesSession }
	}
	s.run(t, patTok, s.op(t, "CancelSeries"), map[string]any{"input": map[string]any{
		"seriesId": booked.BookSeries.SeriesID, "fromAppointmentId": sessions[5].ID, "reason": "feeling better"}}, &cancelled)
	if got := cancelled.CancelSeries.Appointments; len(got) != 5 || got[0].Status != "CANCELLED" || got[4].Series.Index != 10 {
		t.Fatalf("cancelled %+v", got)
	}
	left := mine()
	if len(left) != 5 {
		t.Fatalf("%d sessions left", len(left))
	}
	for i, a := range left {
		if a.ID != sessions[i].ID || a.Series.Index != i+1 {
			t.Fatalf("left %d: %+v", i, a)
		}
	}
}

// TestNoShowPolicyThroughTheRouter: a practice sets its own policy (2 no-shows); after two
// no-shows the patient's online booking is BOOKING_RESTRICTED with extensions.until; the patient
// sees the restriction, the practice sees and lifts it, and the patient books again.
func TestNoShowPolicyThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Nora", "Absent-"+uid.New()[:8])
	openEveryDay(t, s, prTok, locID, typeID)
	var policy struct {
		SetNoShowPolicy struct {
			Practitioner struct {
				NoShowPolicy struct {
					Limit, PeriodDays, RestrictionDays int
					Own                                bool
				}
			}
		}
	}
	s.run(t, prTok, s.op(t, "SetNoShowPolicy"), map[string]any{"input": map[string]any{
		"policy": map[string]any{"limit": 2, "periodDays": 180, "restrictionDays": 30}}}, &policy)
	if p := policy.SetNoShowPolicy.Practitioner.NoShowPolicy; p.Limit != 2 || !p.Own {
		t.Fatalf("policy %+v", p)
	}
	booking := connect(t, s, "booking")
	eventually(t, "the policy in booking's replica of the practice", func() string {
		var limit *int
		err := booking.QueryRow(context.Background(), `SELECT (snapshot->'noShowPolicy'->>'limit')::int
			FROM practitioner_schedules WHERE practitioner_id = $1`, prID).Scan(&limit)
		if err != nil || limit == nil || *limit != 2 {
			return fmt.Sprintf("limit %v, %v", limit, err)
		}
		return ""
	})

	patID, patTok := registerPatient(t, s, "Absent")
	// Two appointments, moved into the past in booking's store (test setup: the clock cannot
	// wait for them), then marked as no-shows by the practice.
	missed := []string{bookThrough(t, s, patTok, prID, typeID, tomorrowAt(9, 0), "missed-1-"+uid.New()),
		bookThrough(t, s, patTok, prID, typeID, tomorrowAt(10, 0), "missed-2-"+uid.New())}
	if _, err := booking.Exec(context.Background(), `UPDATE appointments SET starts_at = starts_at - interval '3 days',
		ends_at = ends_at - interval '3 days', blocked = tstzrange(lower(blocked) - interval '3 days', upper(blocked) - interval '3 days')
		WHERE id = ANY($1::uuid[])`, missed); err != nil {
		t.Fatal(err)
	}
	for _, id := range missed {
		s.run(t, prTok, s.op(t, "MarkNoShow"), map[string]any{"appointmentId": id}, nil)
	}

	res, err := s.client.Do(context.Background(), patTok, s.op(t, "BookAppointment"), bookVars(prID, typeID, tomorrowAt(11, 0), "after-"+uid.New()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Code() != "BOOKING_RESTRICTED" {
		t.Fatalf("a restricted booking: %+v", res.Errors)
	}
	until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(res.Errors[0].Extensions["until"]))
	if err != nil || until.Before(time.Now().Add(29*24*time.Hour)) || until.After(time.Now().Add(30*24*time.Hour)) {
		t.Fatalf("extensions.until %v (%v), want 30 days from now", res.Errors[0].Extensions["until"], err)
	}

	var mine struct {
		Me struct {
			BookingRestrictions []struct {
				Practitioner struct{ ID string }
				NoShows      int
				Until        time.Time
			}
		}
	}
	s.run(t, patTok, s.op(t, "MyBookingRestrictions"), nil, &mine)
	if r := mine.Me.BookingRestrictions; len(r) != 1 || r[0].Practitioner.ID != prID || r[0].NoShows != 2 || !r[0].Until.Equal(until) {
		t.Fatalf("the patient's restrictions: %+v, want until %s", r, until)
	}
	var practice struct {
		MyPractice struct {
			BookingRestrictions []struct {
				PatientID   string
				PatientName *string
			}
		}
	}
	s.run(t, prTok, s.op(t, "PracticeBookingRestrictions"), nil, &practice)
	if r := practice.MyPractice.BookingRestrictions; len(r) != 1 || r[0].PatientID != patID || r[0].PatientName == nil {
		t.Fatalf("the practice's restrictions: %+v", r)
	}
	if codes := s.errorCodes(t, patTok, s.op(t, "LiftBookingRestriction"), map[string]any{"practitionerId": prID, "patientId": patID}); !slices.Contains(codes, "FORBIDDEN") {
		t.Fatalf("the patient lifts their own restriction: %v", codes)
	}
	var lifted struct{ LiftBookingRestriction struct{ Lifted bool } }
	s.run(t, prTok, s.op(t, "LiftBookingRestriction"), map[string]any{"practitionerId": prID, "patientId": patID}, &lifted)
	if !lifted.LiftBookingRestriction.Lifted {
		t.Fatal("nothing lifted")
	}
	bookThrough(t, s, patTok, prID, typeID, tomorrowAt(11, 0), "lifted-"+uid.New())
}
