package business

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Earlier-slot offers (ADR 21). A slot that frees — a cancellation, a move,
// an erasure, an offer declined, withdrawn or expired — is held, in the
// transaction that freed it, for the first waiting patient it suits
// (offerFreed): an offer is a hold (the exclusion constraint makes it one
// offer per slot) whose SlotOffered goes to the outbox before the event that
// freed the slot. Availability keeps occupied ranges by id, so the range is
// still occupied by the offer when the freeing event applies: no live
// subscriber sees an offered slot open. Slots that new opening hours open
// are offered by OfferOpenSlots once booking's replica learns them.

// maxOfferCandidates bounds the waiting entries one freed slot is tried on.
const maxOfferCandidates = 20

// offerFreed offers the slot freed, which stopped occupying its range in tx
// (it is the row as it is now), to a waiting patient, unless it is past.
// Call it before writing the event that freed the slot.
func (s *Service) offerFreed(ctx context.Context, tx *store.Tx, freed store.Appointment, now time.Time) error {
	if !freed.StartsAt.After(now) {
		return nil
	}
	_, _, err := s.offerStart(ctx, tx, freed.PractitionerID, freed.StartsAt, freed.PersonID, now)
	return err
}

// offerStart holds start with the practitioner for the first waiting entry,
// in fair order, that it suits (offerTo), other than exceptPerson's, and
// returns the offer's hold (false: nobody it suits). Entries other
// transactions are deciding are passed over: two slots freed at once go to
// two patients.
func (s *Service) offerStart(ctx context.Context, tx *store.Tx, practitionerID string, start time.Time, exceptPerson string,
	now time.Time) (store.Appointment, bool, error) {
	cands, err := tx.OfferCandidates(ctx, store.CandidateQuery{PractitionerID: practitionerID, Start: start,
		ExceptPerson: exceptPerson, Now: now, Limit: maxOfferCandidates})
	if err != nil || len(cands) == 0 {
		return store.Appointment{}, false, err
	}
	plans := map[string]*plan{}
	for _, c := range cands {
		// Locked one at a time, skipping any another transaction holds (it
		// may be offering it another slot), and read again once locked.
		e, err := tx.LockWaitingEntry(ctx, c.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Appointment{}, false, err
		}
		p, ok := plans[e.AppointmentTypeID]
		if !ok {
			if p, err = s.loadPlanTx(ctx, tx, practitionerID, e.AppointmentTypeID); err != nil {
				if _, refused := apperr.As(err); !refused {
					return store.Appointment{}, false, err
				}
				p = nil // the type (or practice) is gone: nothing to offer its entries
			}
			plans[e.AppointmentTypeID] = p
		}
		if p == nil {
			continue
		}
		h, ok, err := s.offerTo(ctx, tx, p, e, start, now)
		if err != nil || ok {
			return h, ok, err
		}
	}
	return store.Appointment{}, false, nil
}

// offerTo holds start for waiting entry e (locked by tx) if it suits it:
// its terms (offerSuits), its person free then, and the one decision of a
// start (decideStart, the entry's current appointment not counting, since
// accepting moves it). The hold and its SlotOffered are one statement,
// which writes nothing when the slot is taken or e holds a live offer.
func (s *Service) offerTo(ctx context.Context, tx *store.Tx, p *plan, e store.Entry, start, now time.Time) (store.Appointment, bool, error) {
	expires, ok := offerSuits(e, p, start, now, s.offerWindow(p.country), s.cutoff(p.country))
	if !ok {
		return store.Appointment{}, false, nil
	}
	dates, from, to, err := blockedWindow(p, start)
	if err != nil || len(dates) == 0 {
		return store.Appointment{}, false, nil
	}
	current := ""
	if e.CurrentStartsAt != nil {
		current = e.CurrentAppointmentID
	}
	f, err := tx.ReadOfferFacts(ctx, store.OfferFactsQuery{Country: p.country, PractitionerID: p.practitionerID,
		PersonID: e.PersonID, ExcludeID: current, BlockedFrom: from, BlockedTo: to, Start: start,
		End: start.Add(p.typ.Duration), Now: now})
	if err != nil || f.PersonBusy {
		return store.Appointment{}, false, err
	}
	d, err := decideStart(p, start, now, !f.Seen, dates, f.Blocked)
	if err != nil {
		if _, refused := apperr.As(err); refused {
			return store.Appointment{}, false, nil
		}
		return store.Appointment{}, false, err
	}
	h := store.Appointment{
		Country: p.country, ID: uid.New(), PractitionerID: p.practitionerID, PatientID: e.PatientID, RelativeID: e.RelativeID,
		PersonID: e.PersonID, AppointmentTypeID: canonicalID(p.typ.ID), LocationID: canonicalID(d.locationID),
		Status: store.StatusHeld, StartsAt: start, EndsAt: start.Add(p.typ.Duration),
		BlockedFrom: d.blocked.Start.UTC(), BlockedUntil: d.blocked.End.UTC(), HoldExpiresAt: &expires, Version: 1,
	}
	var prev *eventdata.Slot
	if e.CurrentStartsAt != nil {
		cur := *e.CurrentStartsAt
		br := slots.BlockedRange(cur, p.typ)
		prev = &eventdata.Slot{StartsAt: cur, EndsAt: cur.Add(p.typ.Duration), BlockedFrom: br.Start.UTC(), BlockedUntil: br.End.UTC()}
	}
	ev, err := newEvent(eventdata.SlotOffered, h, prev)
	if err != nil {
		return store.Appointment{}, false, err
	}
	out, ok, err := tx.InsertOffer(ctx, h, e.ID, now, events.BookingEvents, ev)
	if err != nil || !ok {
		return store.Appointment{}, false, err
	}
	s.log.InfoContext(ctx, "earlier slot offered", "practitioner_id", p.practitionerID, "offer_id", out.ID,
		"entry_id", e.ID, "starts_at", start, "expires_at", expires)
	return out, true, nil
}

// offerSuits decides, without I/O, whether start suits waiting entry e of
// plan p's type at now, and until when an offer would hold it: the whole
// appointment in the entry's local time-of-day window, on one of its
// weekdays, on or before its latest date (all in the practice's zone),
// before its current appointment, which must still be movable online
// (cutoff); the offer lasts window, but no later than the type's notice
// allows booking the start.
func offerSuits(e store.Entry, p *plan, start, now time.Time, window, cutoff time.Duration) (time.Time, bool) {
	local := start.In(p.zone)
	y, m, d := local.Date()
	ly, lm, ld := e.LatestDate.Date()
	if time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC)) {
		return time.Time{}, false
	}
	if len(e.Weekdays) > 0 && !slices.Contains(e.Weekdays, isoWeekday(local.Weekday())) {
		return time.Time{}, false
	}
	end := start.Add(p.typ.Duration).In(p.zone)
	startMinute, endMinute := local.Hour()*60+local.Minute(), end.Hour()*60+end.Minute()
	if ey, em, ed := end.Date(); ey != y || em != m || ed != d {
		if endMinute != 0 || end.Sub(local) > 24*time.Hour {
			return time.Time{}, false
		}
		endMinute = 24 * 60 // ends at midnight
	}
	if startMinute < e.EarliestMinute || endMinute > e.LatestMinute {
		return time.Time{}, false
	}
	if cur := e.CurrentStartsAt; cur != nil && (!start.Before(*cur) || !now.Before(cur.Add(-cutoff))) {
		return time.Time{}, false
	}
	expires := now.Add(window)
	if last := start.Add(-p.typ.MinNotice); last.Before(expires) {
		expires = last
	}
	expires = expires.UTC().Truncate(time.Microsecond)
	return expires, expires.After(now)
}

// isoWeekday is a weekday's ISO 8601 number (1 = Monday … 7 = Sunday).
func isoWeekday(wd time.Weekday) int {
	if wd == time.Sunday {
		return 7
	}
	return int(wd)
}

// offerWindow is how long an offer holds its slot in country.
func (s *Service) offerWindow(country string) time.Duration {
	if c, ok := s.countries.Get(country); ok {
		return c.OfferWindow()
	}
	return countries.DefaultOfferWindow
}

// cutoff is the country's cancellation cut-off.
func (s *Service) cutoff(country string) time.Duration {
	if c, ok := s.countries.Get(country); ok {
		return c.CancellationCutoff()
	}
	return 0
}

// loadPlanTx is loadPlan read in tx (a transaction must not wait for a
// second connection of the pool).
func (s *Service) loadPlanTx(ctx context.Context, tx *store.Tx, practitionerID, typeID string) (*plan, error) {
	id := canonicalID(practitionerID)
	cached := s.plans.get(id)
	sc, err := tx.ScheduleIfNewer(ctx, id, knownVersion(cached))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundf("practitioner %q not found", practitionerID)
	}
	if err != nil {
		return nil, err
	}
	pr, err := s.practiceOf(id, sc, cached)
	if err != nil {
		return nil, err
	}
	return planOf(pr, id, practitionerID, typeID)
}

// maxScanDays bounds how far ahead OfferOpenSlots looks for an entry.
const maxScanDays = 92

// maxScanTries bounds the open starts OfferOpenSlots tries per entry once
// they pass the entry's terms (each try reads the database).
const maxScanTries = 8

// maxScanEntries bounds the entries one OfferOpenSlots call serves.
const maxScanEntries = 200

// OfferOpenSlots offers, in fair order, each waiting entry of the
// practitioner that holds no live offer the earliest open start that suits
// it and was not offered to it before; one transaction per entry, so the
// next entry sees the offers made before it. Booking's practitioner-events
// consumer calls it once the replica has the practice's new hours: slots
// they open reach the waiting patients first (though availability, fed by
// its own consumer, may list them for the moments before). It returns how
// many offers it made.
func (s *Service) OfferOpenSlots(ctx context.Context, practitionerID string) (int, error) {
	pid := canonicalID(practitionerID)
	ids, err := s.store.EntriesWithoutOffer(ctx, pid, s.now(), maxScanEntries)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	made := 0
	for _, id := range ids {
		var ok bool
		err := s.store.InTx(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = s.offerEarliest(ctx, tx, pid, id, s.now())
			return err
		})
		if err != nil {
			return made, err
		}
		if ok {
			made++
		}
	}
	return made, nil
}

// offerEarliest offers waiting entry id the earliest open start that suits
// it, if any (false otherwise, also when the entry no longer waits or
// another transaction holds it).
func (s *Service) offerEarliest(ctx context.Context, tx *store.Tx, pid, id string, now time.Time) (bool, error) {
	e, err := tx.LockWaitingEntry(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := s.loadPlanTx(ctx, tx, pid, e.AppointmentTypeID)
	if err != nil {
		if _, refused := apperr.As(err); refused {
			return false, nil
		}
		return false, err
	}
	ly, lm, ld := e.LatestDate.Date()
	to := time.Date(ly, lm, ld+1, 0, 0, 0, 0, p.zone)
	if limit := now.Add(maxScanDays * 24 * time.Hour); limit.Before(to) {
		to = limit
	}
	current := ""
	if e.CurrentStartsAt != nil {
		current = e.CurrentAppointmentID
		if e.CurrentStartsAt.Before(to) {
			to = *e.CurrentStartsAt
		}
	}
	if !now.Before(to) {
		return false, nil
	}
	offered, err := tx.OfferedStarts(ctx, e.ID)
	if err != nil {
		return false, err
	}
	// The ranges occupied over the days [now, to) touches, a day either side
	// for buffers across midnight.
	ranges, err := tx.Blocked(ctx, p.country, pid, now.Add(-24*time.Hour), to.Add(24*time.Hour), now, current)
	if err != nil {
		return false, err
	}
	sched := slots.Schedule{Rules: p.rules, Absences: p.absences}
	for _, r := range ranges {
		sched.Blocked = append(sched.Blocked, slots.Interval{Start: r[0], End: r[1]})
	}
	days, err := slots.BuildDays(sched, p.zone, now, to)
	if err != nil {
		return false, err
	}
	tries := 0
	for _, sl := range slots.Open(days, p.rules, p.typ, slots.Request{Now: now, Online: true}, now, to) {
		start := sl.Start.UTC()
		if offered[start] {
			continue
		}
		if _, suits := offerSuits(e, p, start, now, s.offerWindow(p.country), s.cutoff(p.country)); !suits {
			continue
		}
		if tries++; tries > maxScanTries {
			return false, nil
		}
		if _, ok, err := s.offerTo(ctx, tx, p, e, start, now); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}
