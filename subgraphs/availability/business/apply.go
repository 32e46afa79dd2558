package business

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// Result says what an apply did.
type Result struct {
	// Applied is false for a stale or duplicate event.
	Applied bool
	// Changed is the notification published, if the slots or the next
	// available slot changed.
	Changed *eventdata.Availability
}

// outcome is what one run of a transaction function decided; the function
// may run more than once, so it starts from scratch each time.
type outcome struct {
	res     Result
	due     time.Time // zero: unschedule
	setDue  bool
	publish []byte // the pending notification to publish after EXEC
}

// ApplyPractitioner applies a practitioner snapshot if it is newer than the
// stored one: it stores its terms, rebuilds every window day and the next
// slot, and publishes a change when the slots changed (all dates from today
// to the furthest booking horizon are then listed as changed).
func (s *Service) ApplyPractitioner(ctx context.Context, p eventdata.Practitioner) (Result, error) {
	if p.ID == "" || p.Country == "" {
		return Result{}, fmt.Errorf("availability: practitioner snapshot without id or country")
	}
	now := s.now()
	ag := s.AgendaOf(p)
	terms := encodeTerms(ag)
	var out outcome
	err := s.st.Update(ctx, p.ID, func(st *store.State) (*store.Changes, error) {
		out = outcome{publish: st.Pending}
		var old *Agenda
		if st.Record != nil {
			prev, err := decodeTerms(p.ID, st.Record.Terms)
			if err == nil && prev.Version >= p.Version {
				return nil, nil // stale or duplicate
			}
			if err == nil {
				old = prev
			}
		}
		out.res.Applied = true
		ch := &store.Changes{}
		busy := decodeBusy(st.Busy)
		prune(ch, busy, decodeGoneMap(st.Gone), now)
		m := newModel(ag, busy, nil, now)
		window := s.windowDates(ag.Zone, now)
		rec := &store.Record{Country: p.Country, Terms: terms, Days: make(map[string][]byte, len(window))}
		for _, date := range window {
			d, err := m.build(date)
			if err != nil {
				return nil, err
			}
			rec.Days[date] = d.Free
		}
		var dates []string
		if old == nil || !sameSlots(old, ag) {
			dates = s.horizonDates(ag, old, now)
		}
		s.finish(&out, ch, st, m, rec, dates)
		return ch, nil
	})
	if err != nil {
		return Result{}, err
	}
	return out.res, s.after(ctx, p.ID, &out)
}

// horizonDates are the dates whose slots a schedule change may change: from
// today to the furthest booking horizon of the old and new types (at least
// the window).
func (s *Service) horizonDates(ag, old *Agenda, now time.Time) []string {
	days := s.window
	for _, a := range []*Agenda{ag, old} {
		if a == nil {
			continue
		}
		for _, t := range a.Types {
			days = max(days, t.HorizonDays+1)
		}
	}
	today := dateOf(now, ag.Zone)
	return dateRange(today, today.add(min(days, maxSearchDays)-1))
}

// ApplyAppointment applies a booking event (the appointment or hold after the
// change) if its version is newer than the one stored: it records whether the
// appointment occupies its blocked range, rebuilds the affected window days,
// recomputes the next slot, and publishes a change when the slots changed.
func (s *Service) ApplyAppointment(ctx context.Context, a eventdata.Appointment) (Result, error) {
	if a.ID == "" || a.PractitionerID == "" || a.Country == "" {
		return Result{}, fmt.Errorf("availability: appointment without id, practitioner or country")
	}
	now := s.now()
	var out outcome
	err := s.st.Update(ctx, a.PractitionerID, func(st *store.State) (*store.Changes, error) {
		out = outcome{publish: st.Pending}
		busy, gones := decodeBusy(st.Busy), decodeGoneMap(st.Gone)
		prev, had := busy[a.ID]
		if had && prev.Version >= a.Version {
			return nil, nil
		}
		if g, ok := gones[a.ID]; ok && g.Version >= a.Version {
			return nil, nil
		}
		out.res.Applied = true
		ch := &store.Changes{BusySet: map[string]string{}, GoneSet: map[string]string{}}
		prune(ch, busy, gones, now)
		next := occupied{Version: a.Version, Status: a.Status, Range: slots.Interval{Start: a.BlockedFrom.UTC(), End: a.BlockedUntil.UTC()}}
		occupies := a.Occupies() && next.Range.End.After(now.Add(-pastRetention)) && next.Range.Start.Before(next.Range.End)
		if occupies {
			busy[a.ID] = next
			ch.BusySet[a.ID] = next.encode()
			if _, ok := gones[a.ID]; ok {
				ch.GoneDel = append(ch.GoneDel, a.ID)
			}
		} else {
			if had {
				delete(busy, a.ID)
				ch.BusyDel = append(ch.BusyDel, a.ID)
			}
			if a.BlockedUntil.After(now.Add(-goneRetention)) { // as prune would keep it
				ch.GoneSet[a.ID] = gone{Version: a.Version, Until: a.BlockedUntil}.encode()
			}
		}
		ag := s.recordAgenda(a.PractitionerID, st)
		if ag == nil {
			return ch, nil // no schedule yet: its first snapshot builds the days
		}
		// The ranges whose occupancy changed.
		var ranges []slots.Interval
		if had && (!occupies || prev.Range != next.Range) {
			ranges = append(ranges, prev.Range)
		}
		if occupies && (!had || prev.Range != next.Range) {
			ranges = append(ranges, next.Range)
		}
		m := newModel(ag, busy, st.Record.Days, now)
		window := s.windowDates(ag.Zone, now)
		today := dateOf(now, ag.Zone).String()
		var dates []string
		for _, r := range ranges {
			for _, date := range slots.DaysCovering(ag.Zone, r.Start, r.End) {
				if date < window[0] || slices.Contains(dates, date) {
					continue
				}
				if !slices.Contains(window, date) {
					dates = append(dates, date) // beyond the window: built on read, so changed
					continue
				}
				d, err := m.build(date)
				if err != nil {
					return nil, err
				}
				if stored, ok := st.Record.Days[date]; (!ok || !sameBits(stored, d.Free)) && date >= today {
					dates = append(dates, date) // yesterday is stored for its buffers only
				}
			}
		}
		slices.Sort(dates)
		rec, err := m.windowRecord(st.Record, window)
		if err != nil {
			return nil, err
		}
		s.finish(&out, ch, st, m, rec, dates)
		return ch, nil
	})
	if err != nil {
		return Result{}, err
	}
	// Who is a returning patient once the days hold the appointment (a
	// listing for them in between would offer slots overlapping it), and
	// before the change is published: it makes live watchers list again,
	// and they must see it. A failure here retries the event; the update
	// above is then a no-op and the pending change is published after.
	if err := s.learnSeen(ctx, a); err != nil {
		return Result{}, err
	}
	return out.res, s.after(ctx, a.PractitionerID, &out)
}

// learnSeen keeps the seen model (store.Seen) from a booking event: the
// appointment of its person (the relative, or the account) at its version;
// an anonymised one leaves its former person's hash. Holds say nothing.
func (s *Service) learnSeen(ctx context.Context, a eventdata.Appointment) error {
	if a.ErasedPersonID != "" {
		return s.st.ForgetSeen(ctx, a.PractitionerID, a.ErasedPersonID, a.ID)
	}
	if a.Status == eventdata.StatusHeld || a.Status == eventdata.StatusExpired || a.HoldExpiresAt != nil {
		return nil
	}
	person := a.PatientID
	if a.RelativeID != "" {
		person = a.RelativeID
	}
	if person == "" {
		return nil
	}
	return s.st.PutSeen(ctx, a.PractitionerID, person, a.ID, a.Version, a.Status, a.StartsAt)
}

// Refresh is the daily (and next-slot-expiry) maintenance of a
// practitioner: it builds the day that entered the window and drops those
// that left it, drops ended occupied ranges and old tombstones, and
// recomputes the next slot, publishing when it changed.
func (s *Service) Refresh(ctx context.Context, pid string) (Result, error) {
	now := s.now()
	var out outcome
	err := s.st.Update(ctx, pid, func(st *store.State) (*store.Changes, error) {
		out = outcome{publish: st.Pending, setDue: true}
		ch := &store.Changes{}
		busy := decodeBusy(st.Busy)
		prune(ch, busy, decodeGoneMap(st.Gone), now)
		ag := s.recordAgenda(pid, st)
		if ag == nil {
			return ch, nil // unscheduled (zero due)
		}
		m := newModel(ag, busy, st.Record.Days, now)
		rec, err := m.windowRecord(st.Record, s.windowDates(ag.Zone, now))
		if err != nil {
			return nil, err
		}
		s.finish(&out, ch, st, m, rec, nil)
		out.res.Applied = true
		return ch, nil
	})
	if err != nil {
		return Result{}, err
	}
	return out.res, s.after(ctx, pid, &out)
}

// finish computes the next slot into rec, which becomes the record to
// store, and, if anything changed, the notification and the maintenance due
// time.
func (s *Service) finish(out *outcome, ch *store.Changes, st *store.State, m *model, rec *store.Record, dates []string) {
	next, until, err := nextSlot(m.ag, m.now, m.day)
	if err != nil {
		s.log.Warn("next available slot", "err", err)
	}
	rec.Next = time.Time{}
	if next != nil {
		rec.Next = next.Truncate(time.Second) // what the record keeps
	}
	ch.Record = rec
	var prevNext time.Time
	if st.Record != nil {
		prevNext = st.Record.Next
	}
	nextChanged := !rec.Next.Equal(prevNext)
	out.setDue = true
	out.due = nextMidnight(m.ag.Zone, m.now).Add(rollJitter(m.ag.ID))
	if next != nil && until.Before(out.due) {
		out.due = until
	}
	if out.due.Before(m.now.Add(time.Second)) {
		out.due = m.now.Add(time.Second)
	}
	if len(dates) == 0 && !nextChanged {
		return
	}
	var nextSlot *time.Time
	if !rec.Next.IsZero() {
		nextSlot = &rec.Next
	}
	a := mergePending(st.Pending, eventdata.Availability{
		PractitionerID: m.ag.ID, Country: rec.Country, NextAvailableSlot: nextSlot, ChangedDates: dates,
	})
	b, _ := json.Marshal(a)
	ch.Pending = b
	out.publish = b
	out.res.Changed = &a
}

// after runs once the transaction committed: it schedules maintenance and
// publishes the pending notification (then clears it). A failed publish
// leaves it pending: the next apply for the practitioner (a retry of the
// same event included) publishes it.
func (s *Service) after(ctx context.Context, pid string, out *outcome) error {
	var a eventdata.Availability
	live := out.publish
	if live != nil && json.Unmarshal(live, &a) != nil {
		live = nil // unreadable: cleared below, never sent
	}
	// The due time, and live subscribers first (a Redis PUBLISH is cheaper
	// than an acknowledged Kafka produce, and they wait for it), in one round
	// trip; a retry after a failed produce publishes again, which subscribers
	// absorb (they recompute and skip an unchanged list).
	if err := s.st.Announce(ctx, pid, out.setDue, out.due, live); err != nil {
		return fmt.Errorf("schedule or publish availability change on redis: %w", err)
	}
	if live != nil && s.pub != nil {
		if err := s.pub.Publish(ctx, a); err != nil {
			return fmt.Errorf("publish availability change: %w", err)
		}
	}
	if out.publish == nil {
		return nil
	}
	return s.st.ClearPending(ctx, pid, out.publish)
}

// rollJitter spreads the daily roll of a zone's practitioners over the hour
// after midnight (deterministically, so a rebuild schedules the same); the
// day entering the window is built on read until then.
func rollJitter(pid string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(pid))
	return time.Duration(h.Sum32()%3600) * time.Second
}

// prune drops ended occupied ranges and old tombstones (from busy too).
func prune(ch *store.Changes, busy map[string]occupied, gones map[string]gone, now time.Time) {
	for id, o := range busy {
		if !o.Range.End.After(now.Add(-pastRetention)) {
			delete(busy, id)
			ch.BusyDel = append(ch.BusyDel, id)
		}
	}
	for id, g := range gones {
		if !g.Until.After(now.Add(-goneRetention)) {
			ch.GoneDel = append(ch.GoneDel, id)
		}
	}
	slices.Sort(ch.BusyDel)
	slices.Sort(ch.GoneDel)
}

// model is a practitioner's days during one computation: stored bitmaps
// where they exist and are current, built ones otherwise.
type model struct {
	ag     *Agenda
	sched  slots.Schedule
	stored map[string][]byte
	built  map[string]slots.Day
	now    time.Time
	// open, if set, shares the opening hours' days with other
	// practitioners (a rebuild); hours is the key of this one's.
	open  *openingCache
	hours string
}

func newModel(ag *Agenda, busy map[string]occupied, stored map[string][]byte, now time.Time) *model {
	// Sized for the window and its neighbours: growing it showed in a
	// rebuild's profile.
	return &model{ag: ag, sched: schedule(ag, busy), stored: stored, built: make(map[string]slots.Day, 40), now: now}
}

// build computes date from the schedule (and remembers it).
func (m *model) build(date string) (slots.Day, error) {
	var d slots.Day
	var err error
	if m.open != nil {
		d, err = m.open.build(m, date)
	} else {
		d, err = slots.BuildDay(m.sched, date, m.ag.Zone)
	}
	if err == nil {
		m.built[date] = d
	}
	return d, err
}

// day is a day as it will be after the write: built if rebuilt or not
// stored, else the stored bitmap.
func (m *model) day(date string) (slots.Day, error) {
	if d, ok := m.built[date]; ok {
		return d, nil
	}
	if b, ok := m.stored[date]; ok {
		return dayOf(date, m.ag.Zone, b)
	}
	return m.build(date)
}

// windowRecord is old with exactly the days of window: those built during
// this computation, else the stored ones, else built now (a day entering
// the window); the days that left it are dropped.
func (m *model) windowRecord(old *store.Record, window []string) (*store.Record, error) {
	rec := *old
	rec.Days = make(map[string][]byte, len(window))
	for _, date := range window {
		if d, ok := m.built[date]; ok {
			rec.Days[date] = d.Free
		} else if b, ok := m.stored[date]; ok {
			rec.Days[date] = b
		} else {
			d, err := m.build(date)
			if err != nil {
				return nil, err
			}
			rec.Days[date] = d.Free
		}
	}
	return &rec, nil
}
