package availability_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/availability"
	"github.com/careslot/careslot/subgraphs/availability/business"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// start is a Monday, 08:00 in Paris, 13 days before a change to summer time
// (so the 28-day window crosses it) and in the future: day bitmaps expire at
// the end of their day by the server's clock.
var start = func() time.Time {
	now := time.Now()
	for y := now.Year(); ; y++ {
		// The last Sunday of March.
		d := time.Date(y, time.March, 31, 12, 0, 0, 0, paris)
		for d.Weekday() != time.Sunday {
			d = d.AddDate(0, 0, -1)
		}
		s := time.Date(y, time.March, d.Day()-13, 8, 0, 0, 0, paris)
		if s.After(now.Add(24 * time.Hour)) {
			return s
		}
	}
}()

// at is the instant h:m in Paris, day days after start's date.
func at(day, h, m int) time.Time {
	return time.Date(start.Year(), start.Month(), start.Day()+day, h, m, 0, 0, paris)
}

// date is the date day days after start's.
func date(day int) string { return at(day, 12, 0).Format(time.DateOnly) }

type env struct {
	sg     *availability.Subgraph
	svc    *business.Service
	rdb    redis.UniversalClient
	prefix string
	clock  *clock
}

func newEnv(t testing.TB, brokers []string, topicPrefix string) *env {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	return newEnvOn(t, rdb, prefix, brokers, topicPrefix)
}

func newEnvOn(t testing.TB, rdb redis.UniversalClient, prefix string, brokers []string, topicPrefix string) *env {
	return newEnvWith(t, rdb, prefix, func(d *availability.Deps) { d.KafkaBrokers, d.TopicPrefix = brokers, topicPrefix })
}

// newEnvWith is newEnvOn with the dependencies adjusted by set.
func newEnvWith(t testing.TB, rdb redis.UniversalClient, prefix string, set func(*availability.Deps)) *env {
	t.Helper()
	c := &clock{t: start}
	deps := availability.Deps{
		Redis: rdb, KeyPrefix: prefix, Countries: countries.MustDefault(), Verifier: rejectAll{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now,
		MaintenanceInterval: 50 * time.Millisecond,
	}
	set(&deps)
	sg, err := availability.New(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sg.Close)
	return &env{sg: sg, svc: sg.Service, rdb: rdb, prefix: prefix, clock: c}
}

// snapshot is a practitioner in Paris: consultations (20 min) every 20
// minutes on weekday mornings, follow-ups (15 min + 5 min buffer after, one
// hour's notice) every 15 minutes on weekday afternoons, an offline-only
// type, and a Saturday morning for both online types.
func snapshot(id string, version int64) eventdata.Practitioner {
	loc := "loc-" + id
	return eventdata.Practitioner{
		ID: id, Version: version, Country: "fr", FirstName: "Ada", LastName: "Martin", DisplayName: "Dr Ada Martin",
		Specialties: []string{}, Languages: []string{"fr"}, AcceptsNewPatients: true,
		Locations: []eventdata.Location{{ID: loc, Name: "Cabinet", City: "Paris", Country: "fr", TimeZone: "Europe/Paris"}},
		AppointmentTypes: []eventdata.AppointmentType{
			{ID: "consult-" + id, Name: "Consultation", DurationMinutes: 20, VisitMode: "IN_PERSON", NewPatientsAllowed: true, OnlineBookable: true, BookingHorizonDays: 90},
			{ID: "follow-" + id, Name: "Suivi", DurationMinutes: 15, VisitMode: "IN_PERSON", OnlineBookable: true, BufferAfterMinutes: 5, MinNoticeMinutes: 60, BookingHorizonDays: 60},
			{ID: "offline-" + id, Name: "Acte", DurationMinutes: 30, VisitMode: "IN_PERSON", OnlineBookable: false, BookingHorizonDays: 90},
		},
		OpeningHours: []eventdata.OpeningHours{
			{ID: "h1", LocationID: loc, Weekday: 1, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id, "offline-" + id}},
			{ID: "h2", LocationID: loc, Weekday: 2, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id}},
			{ID: "h3", LocationID: loc, Weekday: 3, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id}},
			{ID: "h4", LocationID: loc, Weekday: 4, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id}},
			{ID: "h5", LocationID: loc, Weekday: 5, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id}},
			{ID: "h6", LocationID: loc, Weekday: 1, StartTime: "14:00", EndTime: "18:00", StepMinutes: 15, AppointmentTypeIDs: []string{"follow-" + id}},
			{ID: "h7", LocationID: loc, Weekday: 3, StartTime: "14:00", EndTime: "18:00", StepMinutes: 15, AppointmentTypeIDs: []string{"follow-" + id, "consult-" + id}},
			{ID: "h8", LocationID: loc, Weekday: 6, StartTime: "09:00", EndTime: "12:00", StepMinutes: 20, AppointmentTypeIDs: []string{"consult-" + id, "follow-" + id}},
		},
		Absences: []eventdata.Absence{{ID: "ab1", StartsAt: at(9, 0, 0), EndsAt: at(10, 0, 0), Reason: "congrès"}},
	}
}

// appointment is a confirmed booking of typ at startAt (buffers as the type says).
func appointment(p eventdata.Practitioner, id, typeID string, startAt time.Time, version int64, status string) eventdata.Appointment {
	var at eventdata.AppointmentType
	for _, x := range p.AppointmentTypes {
		if x.ID == typeID {
			at = x
		}
	}
	br := slots.BlockedRange(startAt, slots.TypeOf(at, true))
	return eventdata.Appointment{
		ID: id, Version: version, PractitionerID: p.ID, Country: p.Country, PatientID: "pat-1",
		AppointmentTypeID: typeID, LocationID: p.Locations[0].ID, Status: status,
		StartsAt: startAt, EndsAt: startAt.Add(time.Duration(at.DurationMinutes) * time.Minute),
		BlockedFrom: br.Start, BlockedUntil: br.End,
	}
}

// expected lists what slots.Open says over days built from the schedule
// directly (BuildDay of the same snapshot and occupied ranges), for a new
// patient: what list() (no person: an anonymous caller) must give.
func expected(t testing.TB, svc *business.Service, p eventdata.Practitioner, busy []eventdata.Appointment, typeID, from, to string, now time.Time) []slots.Slot {
	t.Helper()
	return expectedAs(t, svc, p, busy, typeID, from, to, now, true)
}

// expectedAs is expected for a new patient or a returning one.
func expectedAs(t testing.TB, svc *business.Service, p eventdata.Practitioner, busy []eventdata.Appointment, typeID, from, to string, now time.Time, newPatient bool) []slots.Slot {
	t.Helper()
	ag := svc.AgendaOf(p)
	sched := slots.Schedule{Rules: ag.Rules, Absences: ag.Absences}
	for _, a := range busy {
		if a.Occupies() {
			sched.Blocked = append(sched.Blocked, slots.Interval{Start: a.BlockedFrom, End: a.BlockedUntil})
		}
	}
	f, _ := time.Parse(time.DateOnly, from)
	l, _ := time.Parse(time.DateOnly, to)
	var days []slots.Day
	for d := f.AddDate(0, 0, -1); !d.After(l.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
		day, err := slots.BuildDay(sched, d.Format(time.DateOnly), ag.Zone)
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, day)
	}
	ty, _ := ag.Type(typeID)
	out := slots.Open(days, ag.Rules, ty, slots.Request{Now: now, Online: true, NewPatient: newPatient}, days[1].Start, days[len(days)-1].Start)
	if out == nil {
		out = []slots.Slot{}
	}
	return out
}

func list(t testing.TB, svc *business.Service, pid, typeID, from, to string) []slots.Slot {
	t.Helper()
	out, errs := svc.ListSlots(context.Background(), []business.SlotsQuery{{PractitionerID: pid, TypeID: typeID, From: from, To: to}})
	if errs[0] != nil {
		t.Fatalf("list %s %s..%s: %v", typeID, from, to, errs[0])
	}
	return out[0]
}

func sameSlots(a, b []slots.Slot) bool {
	return slices.EqualFunc(a, b, func(x, y slots.Slot) bool {
		return x.Start.Equal(y.Start) && x.End.Equal(y.End) && x.LocationID == y.LocationID
	})
}

func containsStart(ss []slots.Slot, at time.Time) bool {
	return slices.ContainsFunc(ss, func(s slots.Slot) bool { return s.Start.Equal(at) })
}

func mustApplyP(t testing.TB, e *env, p eventdata.Practitioner) business.Result {
	t.Helper()
	r, err := e.svc.ApplyPractitioner(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustApplyA(t testing.TB, e *env, a eventdata.Appointment) business.Result {
	t.Helper()
	r, err := e.svc.ApplyAppointment(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestScheduleEventBuildsWindowAndListsLikeSlotsOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	p := snapshot("p1", 1)
	r := mustApplyP(t, e, p)
	if !r.Applied || r.Changed == nil {
		t.Fatalf("first snapshot: %+v", r)
	}

	// Every window day (and one either side) has a bitmap equal to BuildDay
	// of the schedule (less its trailing zero bytes) in the practitioner's
	// record, and no other day.
	ag := e.svc.AgendaOf(p)
	sched := slots.Schedule{Rules: ag.Rules, Absences: ag.Absences}
	rec := record(t, e, "p1")
	for i := -1; i <= 28; i++ {
		date := date(i)
		got, ok := rec.Days[date]
		if !ok {
			t.Fatalf("day %s not stored", date)
		}
		want, _ := slots.BuildDay(sched, date, paris)
		if !bytes.Equal(got, bytes.TrimRight(want.Free, "\x00")) {
			t.Errorf("day %s: bitmap differs from BuildDay", date)
		}
		if i == 13 && want.Ticks != 276 {
			t.Errorf("DST day has %d ticks", want.Ticks)
		}
	}
	if len(rec.Days) != 30 {
		t.Errorf("%d days stored, want the window's 30", len(rec.Days))
	}
	if rec.Country != "fr" {
		t.Errorf("country: %q", rec.Country)
	}

	// Listing equals slots.Open over BuildDay, in the window, across it, and beyond it.
	for _, typ := range []string{"consult-p1", "follow-p1", "offline-p1"} {
		for _, rg := range [][2]string{{date(0), date(27)}, {date(20), date(40)}, {date(46), date(65)}, {date(-6), date(1)}} {
			got := list(t, e.svc, "p1", typ, rg[0], rg[1])
			want := expected(t, e.svc, p, nil, typ, rg[0], rg[1], start)
			if !sameSlots(got, want) {
				t.Errorf("%s %v: got %d slots, want %d", typ, rg, len(got), len(want))
			}
			if typ == "offline-p1" && len(got) != 0 {
				t.Errorf("offline type listed %d slots", len(got))
			}
		}
	}
	consult := list(t, e.svc, "p1", "consult-p1", date(0), date(0))
	if len(consult) != 9 || !consult[0].Start.Equal(at(0, 9, 0)) {
		t.Errorf("Monday consultations: %v", consult)
	}
	if got := list(t, e.svc, "p1", "consult-p1", date(9), date(9)); len(got) != 0 {
		t.Errorf("absence day lists %d slots", len(got))
	}
	// After DST the wall clock stays 09:00.
	if got := list(t, e.svc, "p1", "consult-p1", date(14), date(14)); len(got) == 0 || !got[0].Start.Equal(at(14, 9, 0)) {
		t.Errorf("after DST: %v", got)
	}

	// The next available slot is the soonest of the online types.
	next, err := e.svc.NextSlots(ctx, []string{"p1", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if next[0] == nil || !next[0].Equal(at(0, 9, 0)) || next[1] != nil {
		t.Errorf("next: %v", next)
	}

	// A duplicate or older snapshot changes nothing.
	if r := mustApplyP(t, e, p); r.Applied {
		t.Errorf("duplicate snapshot applied")
	}
	older := snapshot("p1", 0)
	older.OpeningHours = nil
	if r := mustApplyP(t, e, older); r.Applied {
		t.Errorf("older snapshot applied")
	}
	if got := list(t, e.svc, "p1", "consult-p1", date(0), date(0)); len(got) != 9 {
		t.Errorf("after stale snapshot: %d slots", len(got))
	}

	// A newer snapshot that closes Mondays changes the listing and notifies all dates.
	newer := snapshot("p1", 2)
	newer.OpeningHours = slices.DeleteFunc(newer.OpeningHours, func(h eventdata.OpeningHours) bool { return h.Weekday == 1 })
	r = mustApplyP(t, e, newer)
	if !r.Applied || r.Changed == nil || len(r.Changed.ChangedDates) < 28 {
		t.Fatalf("newer snapshot: %+v", r)
	}
	if got := list(t, e.svc, "p1", "consult-p1", date(0), date(0)); len(got) != 0 {
		t.Errorf("closed Monday lists %d", len(got))
	}
	// A newer version with nothing slot-relevant changed notifies nobody.
	bio := snapshot("p1", 3)
	bio.OpeningHours = newer.OpeningHours
	bio.FirstName = "Adèle"
	if r := mustApplyP(t, e, bio); !r.Applied || r.Changed != nil {
		t.Errorf("profile-only change: %+v", r)
	}
}

func TestBookingEventsTakeAndFreeSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	p := snapshot("p2", 1)
	mustApplyP(t, e, p)
	when := at(2, 9, 40) // a Wednesday consultation
	if !containsStart(list(t, e.svc, "p2", "consult-p2", date(2), date(2)), when) {
		t.Fatal("slot not listed before booking")
	}

	held := appointment(p, "a1", "consult-p2", when, 1, eventdata.StatusHeld)
	r := mustApplyA(t, e, held)
	if !r.Applied || r.Changed == nil || !slices.Equal(r.Changed.ChangedDates, []string{date(2)}) {
		t.Fatalf("hold: %+v", r.Changed)
	}
	if containsStart(list(t, e.svc, "p2", "consult-p2", date(2), date(2)), when) {
		t.Error("held slot still listed")
	}
	confirmed := held
	confirmed.Version, confirmed.Status = 2, eventdata.StatusConfirmed
	if r := mustApplyA(t, e, confirmed); !r.Applied || r.Changed != nil {
		t.Errorf("hold → confirmed should change no slot: %+v", r)
	}
	got := list(t, e.svc, "p2", "consult-p2", date(0), date(27))
	if want := expected(t, e.svc, p, []eventdata.Appointment{confirmed}, "consult-p2", date(0), date(27), start); !sameSlots(got, want) {
		t.Errorf("after booking: %d slots, want %d", len(got), len(want))
	}
	// A follow-up on Wednesday afternoon, with its 5-minute buffer: 14:00 blocks 14:00–14:20,
	// so a consultation at 14:15 is gone as well.
	follow := appointment(p, "a2", "follow-p2", at(2, 14, 0), 1, eventdata.StatusConfirmed)
	mustApplyA(t, e, follow)
	cons := list(t, e.svc, "p2", "consult-p2", date(2), date(2))
	if containsStart(cons, at(2, 14, 15)) || !containsStart(cons, at(2, 14, 30)) {
		t.Errorf("buffer not honoured: %v", cons)
	}

	// Cancellation frees it; the old hold event replayed, or the cancellation again, change nothing.
	cancelled := confirmed
	cancelled.Version, cancelled.Status = 3, eventdata.StatusCancelled
	r = mustApplyA(t, e, cancelled)
	if !r.Applied || r.Changed == nil || !slices.Contains(r.Changed.ChangedDates, date(2)) {
		t.Fatalf("cancel: %+v", r)
	}
	if !containsStart(list(t, e.svc, "p2", "consult-p2", date(2), date(2)), when) {
		t.Error("cancelled slot not listed again")
	}
	for _, stale := range []eventdata.Appointment{held, confirmed, cancelled} {
		if r := mustApplyA(t, e, stale); r.Applied {
			t.Errorf("stale v%d %s applied", stale.Version, stale.Status)
		}
	}
	if !containsStart(list(t, e.svc, "p2", "consult-p2", date(2), date(2)), when) {
		t.Error("stale events took the slot again")
	}

	// A booking far beyond the window is answered from the occupied ranges.
	far := appointment(p, "a3", "consult-p2", at(49, 9, 0), 1, eventdata.StatusConfirmed)
	r = mustApplyA(t, e, far)
	if r.Changed == nil || !slices.Equal(r.Changed.ChangedDates, []string{date(49)}) {
		t.Errorf("far booking: %+v", r.Changed)
	}
	if containsStart(list(t, e.svc, "p2", "consult-p2", date(49), date(49)), far.StartsAt) {
		t.Error("far booked slot listed")
	}

	// Booking the soonest slot moves the next available slot.
	first := appointment(p, "a4", "consult-p2", at(0, 9, 0), 1, eventdata.StatusConfirmed)
	r = mustApplyA(t, e, first)
	if r.Changed == nil || r.Changed.NextAvailableSlot == nil || !r.Changed.NextAvailableSlot.Equal(at(0, 9, 20)) {
		t.Errorf("next after booking the first: %+v", r.Changed)
	}
	next, _ := e.svc.NextSlots(ctx, []string{"p2"})
	if next[0] == nil || !next[0].Equal(at(0, 9, 20)) {
		t.Errorf("stored next: %v", next[0])
	}
}

func TestBookingBeforeScheduleAndInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	p := snapshot("p3", 1)
	a := appointment(p, "b1", "consult-p3", at(1, 9, 0), 1, eventdata.StatusConfirmed)
	if r := mustApplyA(t, e, a); !r.Applied || r.Changed != nil {
		t.Errorf("booking before any schedule: %+v", r)
	}
	if got := list(t, e.svc, "p3", "consult-p3", date(0), date(4)); len(got) != 0 {
		t.Errorf("unknown schedule lists %d", len(got))
	}
	mustApplyP(t, e, p)
	got := list(t, e.svc, "p3", "consult-p3", date(0), date(27))
	if want := expected(t, e.svc, p, []eventdata.Appointment{a}, "consult-p3", date(0), date(27), start); !sameSlots(got, want) || containsStart(got, a.StartsAt) {
		t.Errorf("booking made before the schedule is not honoured")
	}
	_, errs := e.svc.ListSlots(context.Background(), []business.SlotsQuery{
		{PractitionerID: "p3", TypeID: "consult-p3", From: date(4), To: date(3)},
		{PractitionerID: "p3", TypeID: "consult-p3", From: date(-15), To: date(47)},
		{PractitionerID: "p3", TypeID: "nope", From: date(0), To: date(1)},
		{PractitionerID: "p3", TypeID: "consult-p3", From: date(-15), To: date(46)},
	})
	for i, want := range []string{"INVALID_INPUT: to:", "INVALID_INPUT: to:", "INVALID_INPUT: appointmentTypeId:", ""} {
		if (errs[i] == nil) != (want == "") || (errs[i] != nil && !strings.HasPrefix(errs[i].Error(), want)) {
			t.Errorf("query %d: %v, want %q", i, errs[i], want)
		}
	}
}

func TestMaintenanceRollsTheWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	p := snapshot("p4", 1)
	mustApplyP(t, e, p)
	if _, ok := record(t, e, "p4").Days[date(29)]; ok {
		t.Fatal("day 29 stored")
	}
	// Nothing is due before the first slot (09:00, no notice) passes.
	if n, err := e.svc.MaintainOnce(ctx, start.Add(30*time.Minute)); err != nil || n != 0 {
		t.Fatalf("early maintenance: %d %v", n, err)
	}
	// After midnight the new day enters the window and the next slot moves on.
	later := at(1, 1, 0) // the roll is spread over the hour after midnight
	e.clock.Set(later)
	if n, err := e.svc.MaintainOnce(ctx, later); err != nil || n != 1 {
		t.Fatalf("maintenance: %d %v", n, err)
	}
	rec := record(t, e, "p4")
	if _, ok := rec.Days[date(29)]; !ok {
		t.Error("the day entering the window was not built")
	}
	// The day that left the window (the day before yesterday) is dropped.
	if _, ok := rec.Days[date(-1)]; ok || len(rec.Days) != 30 {
		t.Errorf("after the roll the record holds %d days (day -1: %v)", len(rec.Days), ok)
	}
	next, _ := e.svc.NextSlots(ctx, []string{"p4"})
	if next[0] == nil || !next[0].Equal(at(1, 9, 0)) {
		t.Errorf("next after the roll: %v", next[0])
	}
}

// record reads a practitioner's record (nil: none).
func record(t testing.TB, e *env, pid string) *store.Record {
	t.Helper()
	b, err := e.rdb.Get(context.Background(), e.prefix+store.Namespace+"p:{"+pid+"}").Bytes()
	if err == redis.Nil {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// dump returns every key under prefix (but the dedupe keys) with its value,
// the prefix replaced by "~"; a practitioner's record is taken apart, one
// entry per field ("~av2:p:{id}#next", "#day:2026-03-16", …), so that a
// difference names the field.
func dump(t testing.TB, rdb redis.UniversalClient, prefix string, skip func(string) bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	err := redisconn.Scan(ctx, rdb, prefix+"*", 1000, func(keys []string) error {
		for _, k := range keys {
			short := "~" + strings.TrimPrefix(k, prefix)
			if strings.HasPrefix(short, "~dedupe:") || (skip != nil && skip(short)) {
				continue
			}
			switch typ := rdb.Type(ctx, k).Val(); typ {
			case "string":
				v := rdb.Get(ctx, k).Val()
				if !strings.Contains(short, store.Namespace+"p:{") {
					out[short] = v
					continue
				}
				rec, err := store.DecodeRecord([]byte(v))
				if err != nil {
					t.Errorf("%s: %v", short, err)
					continue
				}
				out[short+"#country"] = rec.Country
				out[short+"#next"] = rec.Next.String()
				out[short+"#terms"] = fmt.Sprintf("%x", rec.Terms)
				for d, b := range rec.Days {
					out[short+"#day:"+d] = fmt.Sprintf("%x", b)
				}
			case "hash":
				m := rdb.HGetAll(ctx, k).Val()
				var fs []string
				for f, v := range m {
					fs = append(fs, f+"="+v)
				}
				sort.Strings(fs)
				out[short] = strings.Join(fs, ";")
			case "zset":
				zs := rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
				var fs []string
				for _, z := range zs {
					fs = append(fs, fmt.Sprintf("%v=%v", z.Member, z.Score))
				}
				out[short] = strings.Join(fs, ";")
			default:
				out[short] = "?" + typ
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diff(t testing.TB, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if w, ok := b[k]; !ok {
			t.Errorf("key %s only before", k)
		} else if v != w {
			t.Errorf("key %s differs:\n  %q\n  %q", k, v, w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("key %s only after", k)
		}
	}
}

func TestRebuildReproducesTheIncrementalModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	var ps []eventdata.Practitioner
	live := map[string]eventdata.Appointment{}
	apply := func(a eventdata.Appointment) {
		mustApplyA(t, e, a)
		if a.Occupies() {
			live[a.ID] = a
		} else {
			delete(live, a.ID)
		}
	}
	for i := range 3 {
		id := fmt.Sprintf("r%d", i)
		p := snapshot(id, 1)
		// A booking arrives before the practitioner's snapshot for r2.
		if i == 2 {
			apply(appointment(p, id+"-early", "consult-"+id, at(1, 10, 0), 1, eventdata.StatusConfirmed))
		}
		mustApplyP(t, e, p)
		p.Version = 2
		p.OpeningHours = p.OpeningHours[1:]
		mustApplyP(t, e, p)
		ps = append(ps, p)
		for d := range 20 {
			when := at(d, 9, 20)
			apply(appointment(p, fmt.Sprintf("%s-a%d", id, d), "consult-"+id, when, 1, eventdata.StatusConfirmed))
		}
		// A hold that expires, a cancellation, a far booking, a past one.
		h := appointment(p, id+"-h", "follow-"+id, at(2, 14, 30), 1, eventdata.StatusHeld)
		apply(h)
		h.Version, h.Status = 2, eventdata.StatusExpired
		apply(h)
		c := appointment(p, id+"-c", "consult-"+id, at(4, 11, 0), 1, eventdata.StatusConfirmed)
		apply(c)
		c.Version, c.Status = 2, eventdata.StatusCancelled
		apply(c)
		apply(appointment(p, id+"-far", "consult-"+id, at(56, 9, 0), 3, eventdata.StatusConfirmed))
		apply(appointment(p, id+"-past", "consult-"+id, at(-15, 9, 0), 1, eventdata.StatusConfirmed))
	}
	before := dump(t, e.rdb, e.prefix, nil)
	if len(before) < 3*30 {
		t.Fatalf("only %d keys", len(before))
	}

	exportP := func(fn func([]eventdata.Practitioner) error) error {
		if err := fn(ps[:2]); err != nil {
			return err
		}
		return fn(ps[2:])
	}
	var occ []eventdata.Appointment
	for _, a := range live {
		occ = append(occ, a)
	}
	exportA := func(fn func([]eventdata.Appointment) error) error {
		for len(occ) > 0 {
			n := min(len(occ), 7)
			if err := fn(occ[:n]); err != nil {
				return err
			}
			occ = occ[n:]
		}
		return nil
	}
	// In place: clears and rewrites the model; equal key for key.
	if err := e.sg.Rebuild(ctx, exportP, exportA); err != nil {
		t.Fatal(err)
	}
	diff(t, before, dump(t, e.rdb, e.prefix, nil))

	// Into an empty Redis prefix: equal but for the tombstones and the seen
	// model (kept, not rebuilt).
	fresh := newEnvOn(t, e.rdb, e.prefix+"fresh:", nil, "")
	for _, a := range live {
		occ = append(occ, a)
	}
	if err := fresh.sg.Rebuild(ctx, exportP, exportA); err != nil {
		t.Fatal(err)
	}
	// The seen model (who is a returning patient) is kept across a rebuild, not rebuilt.
	noGone := func(k string) bool {
		return strings.Contains(k, ":gone:") || strings.Contains(k, "seen:{") || strings.HasPrefix(k, "~fresh:")
	}
	diff(t, dump(t, e.rdb, e.prefix, noGone), dump(t, e.rdb, e.prefix+"fresh:", noGone))
}

// TestRebuildInPlaceDropsWhatTheExportsLack: a rebuild over a model that
// holds more than the exports (a practitioner no longer exported, one whose
// zone moved its window by a day, one that changed country) leaves what a
// rebuild into an empty prefix leaves.
func TestRebuildInPlaceDropsWhatTheExportsLack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	stays, left, moved, emigrated := snapshot("stays", 1), snapshot("left", 1), snapshot("moved", 1), snapshot("emigrated", 1)
	for _, p := range []eventdata.Practitioner{stays, left, moved, emigrated} {
		mustApplyP(t, e, p)
		mustApplyA(t, e, appointment(p, p.ID+"-a", "consult-"+p.ID, at(2, 9, 20), 1, eventdata.StatusConfirmed))
	}
	// Pago Pago's date is the day before Paris's at start: its window ends a
	// day earlier.
	moved.Version = 2
	moved.Locations[0].TimeZone = "Pacific/Pago_Pago"
	emigrated.Version = 2
	emigrated.Country = "de"
	emigrated.Locations[0].Country = "de"
	if _, ok := record(t, e, "moved").Days[date(28)]; !ok {
		t.Fatal("no bitmap for the last day of moved's Paris window")
	}
	exported := []eventdata.Practitioner{stays, moved, emigrated}
	var occ []eventdata.Appointment
	for _, p := range exported {
		occ = append(occ, appointment(p, p.ID+"-a", "consult-"+p.ID, at(2, 9, 20), 1, eventdata.StatusConfirmed))
	}
	exportP := func(fn func([]eventdata.Practitioner) error) error { return fn(exported) }
	exportA := func(fn func([]eventdata.Appointment) error) error { return fn(occ) }
	if err := e.sg.Rebuild(ctx, exportP, exportA); err != nil {
		t.Fatal(err)
	}
	fresh := newEnvOn(t, e.rdb, e.prefix+"fresh:", nil, "")
	if err := fresh.sg.Rebuild(ctx, exportP, exportA); err != nil {
		t.Fatal(err)
	}
	skip := func(k string) bool {
		return strings.Contains(k, ":gone:") || strings.Contains(k, "seen:{") || strings.HasPrefix(k, "~fresh:")
	}
	got := dump(t, e.rdb, e.prefix, skip)
	if _, ok := record(t, e, "moved").Days[date(28)]; ok {
		t.Error("moved keeps the bitmap of a day its window no longer holds")
	}
	if cc := record(t, e, "emigrated").Country; cc != "de" {
		t.Errorf("emigrated's record says %q", cc)
	}
	for k := range got {
		if strings.Contains(k, "{left}") {
			t.Errorf("%s survived the rebuild", k)
		}
	}
	diff(t, got, dump(t, e.rdb, e.prefix+"fresh:", skip))
}

// TestExportNextSlotsSeesEveryPractitioner: the export search warms from,
// read over HTTP as search reads it, streams every practitioner's stored
// next slot, whichever node of a Redis Cluster holds it; resumed after any
// page's cursor, it gives exactly the pages that followed.
func TestExportNextSlotsSeesEveryPractitioner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	want := map[string]time.Time{}
	for i := range 40 {
		p := snapshot(fmt.Sprintf("x%d", i), 1)
		mustApplyP(t, e, p)
		// Every other one has its first slot taken, so the next slots differ.
		if i%2 == 1 {
			first := list(t, e.svc, p.ID, "consult-"+p.ID, date(0), date(6))[0]
			mustApplyA(t, e, appointment(p, p.ID+"-a", "consult-"+p.ID, first.Start, 1, eventdata.StatusConfirmed))
		}
		at := record(t, e, p.ID).Next
		if at.IsZero() {
			t.Fatalf("%s has no next slot", p.ID)
		}
		want[p.ID] = at
	}
	srv := httptest.NewServer(export.Handler(e.svc.ExportNextSlots, nil))
	defer srv.Close()
	got := map[string]time.Time{}
	err := export.Stream(ctx, nil, srv.URL, func(batch []eventdata.Availability) error {
		for _, a := range batch {
			if _, dup := got[a.PractitionerID]; dup {
				t.Errorf("%s exported twice", a.PractitionerID)
			}
			if a.Country != "fr" || a.NextAvailableSlot == nil {
				t.Errorf("%s: %+v", a.PractitionerID, a)
				continue
			}
			got[a.PractitionerID] = *a.NextAvailableSlot
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("exported %d next slots, want %d", len(got), len(want))
	}
	for id, at := range want {
		if !got[id].Equal(at) {
			t.Errorf("%s: exported %v, stored %v", id, got[id], at)
		}
	}

	// Resumed after each page (one per master on a cluster).
	type page struct {
		ids    []string
		cursor string
	}
	pages := func(after string) []page {
		var out []page
		if err := e.svc.ExportNextSlots(ctx, after, func(batch []eventdata.Availability, cursor string) error {
			p := page{cursor: cursor}
			for _, a := range batch {
				p.ids = append(p.ids, a.PractitionerID)
			}
			out = append(out, p)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := pages("")
	for i, p := range all {
		var rest, resumed []string
		for _, q := range all[i+1:] {
			rest = append(rest, q.ids...)
		}
		for _, q := range pages(p.cursor) {
			resumed = append(resumed, q.ids...)
		}
		slices.Sort(rest)
		slices.Sort(resumed)
		if !slices.Equal(rest, resumed) {
			t.Errorf("resumed after page %d of %d: %d ids, want the %d that followed", i+1, len(all), len(resumed), len(rest))
		}
	}
	if err := e.svc.ExportNextSlots(ctx, "not-a-cursor", func([]eventdata.Availability, string) error { return nil }); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Errorf("a malformed cursor: %v, want INVALID_INPUT", err)
	}
}
