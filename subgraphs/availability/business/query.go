package business

import (
	"context"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// SlotsQuery asks for the open slots of one practitioner's appointment type
// between two local dates (YYYY-MM-DD, inclusive, in the practitioner's zone),
// as Person may book them (see Caller).
type SlotsQuery struct {
	PractitionerID string
	TypeID         string
	From, To       string
	// Person is the calling patient's account; "" for anyone else
	// (anonymous callers, practices, admins), who see what a new patient may
	// book.
	Person string
}

// Caller is the SlotsQuery.Person of a request: the calling patient's
// account, or "".
func Caller(ctx context.Context) string {
	if acc, err := auth.PatientAccount(ctx); err == nil {
		return acc
	}
	return ""
}

// ValidateRange checks a listing's dates: well formed, to not before from,
// at most MaxRangeDays days.
func ValidateRange(from, to string) error {
	f, err := parseDate(from)
	if err != nil {
		return apperr.Invalid("from", "must be YYYY-MM-DD")
	}
	t, err := parseDate(to)
	if err != nil {
		return apperr.Invalid("to", "must be YYYY-MM-DD")
	}
	if t.t.Before(f.t) {
		return apperr.Invalid("to", "must not be before from")
	}
	if days := int(t.t.Sub(f.t)/(24*time.Hour)) + 1; days > MaxRangeDays {
		return apperr.Invalid("to", "the range covers %d days; at most %d", days, MaxRangeDays)
	}
	return nil
}

// ListSlots answers a batch of queries with one Redis round trip: each
// practitioner's snapshot and the day bitmaps of the range (a day without a
// bitmap — beyond the window, or in the past — is built with slots.BuildDay
// from the snapshot and the occupied ranges read in the same trip), then
// slots.Open for the caller booking online at now: a type closed to new
// patients lists only the starts after the caller's first appointment with
// the practitioner (booking's rule; none for a new patient or an anonymous
// caller), read from the seen model in one more round trip. A practitioner
// the read model does not know has no slots; a type that is not the
// practitioner's is INVALID_INPUT (field appointmentTypeId).
func (s *Service) ListSlots(ctx context.Context, qs []SlotsQuery) ([][]slots.Slot, []error) {
	out := make([][]slots.Slot, len(qs))
	errs := make([]error, len(qs))
	reads := make([]store.SlotsQuery, 0, len(qs))
	idx := make([]int, 0, len(qs))
	for i, q := range qs {
		if err := ValidateRange(q.From, q.To); err != nil {
			errs[i] = err
			continue
		}
		f, _ := parseDate(q.From)
		t, _ := parseDate(q.To)
		// One day either side: buffers may reach across midnight.
		reads = append(reads, store.SlotsQuery{PractitionerID: q.PractitionerID, Dates: dateRange(f.add(-1), t.add(1))})
		idx = append(idx, i)
	}
	if len(reads) == 0 {
		return out, errs
	}
	data, err := s.st.ReadSlots(ctx, reads)
	var since []*time.Time
	if err == nil {
		since, err = s.returningSince(ctx, qs, idx)
	}
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return out, errs
	}
	now := s.now()
	for j, i := range idx {
		out[i], errs[i] = s.list(qs[i], reads[j].Dates, data[j], since[j], now)
	}
	return out, errs
}

// returningSince is, for each query of idx, since when its person is a
// returning patient of the practitioner (nil: new, or no person).
func (s *Service) returningSince(ctx context.Context, qs []SlotsQuery, idx []int) ([]*time.Time, error) {
	out := make([]*time.Time, len(idx))
	var seen []store.SeenQuery
	var at []int
	for j, i := range idx {
		if qs[i].Person != "" {
			seen = append(seen, store.SeenQuery{PractitionerID: qs[i].PractitionerID, Person: qs[i].Person})
			at = append(at, j)
		}
	}
	got, err := s.st.ReturningSince(ctx, seen)
	if err != nil {
		return nil, err
	}
	for k, j := range at {
		out[j] = got[k]
	}
	return out, nil
}

func (s *Service) list(q SlotsQuery, dates []string, d store.SlotsData, returningSince *time.Time, now time.Time) ([]slots.Slot, error) {
	if d.Err != nil {
		return nil, d.Err
	}
	if d.Record == nil {
		return []slots.Slot{}, nil
	}
	ag, err := s.cachedAgenda(q.PractitionerID, d.Record.Terms)
	if err != nil {
		return nil, err
	}
	t, ok := ag.Type(q.TypeID)
	if !ok {
		return nil, apperr.Invalid("appointmentTypeId", "not an appointment type of practitioner %s", q.PractitionerID)
	}
	var sched *slots.Schedule
	days := make([]slots.Day, 0, len(dates))
	for _, date := range dates {
		var day slots.Day
		if b, ok := d.Record.Days[date]; ok {
			day, err = dayOf(date, ag.Zone, b)
		} else {
			if sched == nil {
				sc := schedule(ag, decodeBusy(d.Busy))
				sched = &sc
			}
			day, err = slots.BuildDay(*sched, date, ag.Zone)
		}
		if err != nil {
			return nil, err
		}
		days = append(days, day)
	}
	from, to := days[1].Start, days[len(days)-1].Start
	req := slots.Request{Now: now, Online: true, NewPatient: true}
	if returningSince != nil && !t.NewPatientsAllowed {
		// Returning for the starts after the first appointment only.
		req.NewPatient = false
		if after := returningSince.Add(time.Nanosecond); after.After(from) {
			from = after
		}
	}
	var open []slots.Slot
	if from.Before(to) {
		open = slots.Open(days, ag.Rules, t, req, from, to)
	}
	if open == nil {
		open = []slots.Slot{}
	}
	return open, nil
}

// NextSlots returns each practitioner's next available slot (nil: none, or
// unknown to the read model) with one Redis round trip. A stored answer that
// time has overtaken (the maintenance worker is behind) is refreshed first.
func (s *Service) NextSlots(ctx context.Context, pids []string) ([]*time.Time, error) {
	data, err := s.st.ReadNext(ctx, pids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]*time.Time, len(pids))
	for i, d := range data {
		if d.Err != nil {
			// The field is nullable: one unreadable record must not fail a page.
			s.log.Warn("unreadable availability record; run `careslot rebuild availability`", "practitioner", pids[i], "err", d.Err)
			continue
		}
		if d.Next.Before(now) && !d.Next.IsZero() {
			if _, err := s.Refresh(ctx, pids[i]); err != nil {
				return nil, err
			}
			again, err := s.st.ReadNext(ctx, pids[i:i+1])
			if err != nil {
				return nil, err
			}
			d = again[0]
		}
		if !d.Next.IsZero() {
			t := d.Next
			out[i] = &t
		}
	}
	return out, nil
}
