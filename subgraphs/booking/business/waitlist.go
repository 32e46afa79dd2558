package business

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// MaxWaitlistEntries caps an account's waiting entries (each may hold an
// offer, which holds a slot).
const MaxWaitlistEntries = 5

// JoinWaitlistInput asks to be offered an earlier slot with a practitioner.
type JoinWaitlistInput struct {
	PractitionerID    string
	AppointmentTypeID string
	// CurrentAppointmentID (optional) is the caller's confirmed appointment
	// of that practitioner and type, which accepting an offer moves.
	CurrentAppointmentID string
	// RelativeID (optional) is the relative the caller waits for (that of
	// the current appointment when one is given).
	RelativeID string
	// LatestDate is the last local date the caller would accept.
	LatestDate time.Time
	// EarliestMinute and LatestMinute bound, in local minutes since
	// midnight, the time of day the whole appointment must lie in (nil: the
	// day's start, its end).
	EarliestMinute, LatestMinute *int
	// Weekdays (ISO 1–7) the caller can come (empty: any).
	Weekdays []int
}

// WaitlistItem is a waiting entry with its latest offer, if any.
type WaitlistItem struct {
	Entry store.Entry
	Offer *store.Offer
}

// JoinWaitlist puts the calling patient (or their relative) on the
// practitioner's waitlist for a type: when a slot that suits the entry
// frees, it is held for them for the country's offer window (offer.go).
// Joining again for the same person, practitioner and type gives the entry
// the new terms and keeps its place in line.
func (s *Service) JoinWaitlist(ctx context.Context, in JoinWaitlistInput) (store.Entry, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Entry{}, err
	}
	fs := []field{{"practitionerId", in.PractitionerID}, {"appointmentTypeId", in.AppointmentTypeID}}
	if in.CurrentAppointmentID != "" {
		fs = append(fs, field{"currentAppointmentId", in.CurrentAppointmentID})
	}
	if in.RelativeID != "" {
		fs = append(fs, field{"relativeId", in.RelativeID})
	}
	if err := ids(fs...); err != nil {
		return store.Entry{}, err
	}
	earliest, latest := 0, 24*60
	if in.EarliestMinute != nil {
		earliest = *in.EarliestMinute
	}
	if in.LatestMinute != nil {
		latest = *in.LatestMinute
	}
	if earliest < 0 || earliest >= 24*60 {
		return store.Entry{}, apperr.Invalid("earliestTime", "must be a time of day")
	}
	if latest <= earliest || latest > 24*60 {
		return store.Entry{}, apperr.Invalid("latestTime", "must be after earliestTime")
	}
	var weekdays []int
	for _, d := range in.Weekdays {
		if d < 1 || d > 7 {
			return store.Entry{}, apperr.Invalid("weekdays", "must be ISO weekdays 1 to 7")
		}
		if !slices.Contains(weekdays, d) {
			weekdays = append(weekdays, d)
		}
	}
	slices.Sort(weekdays)
	p, err := withFreshPractice(ctx, s, func() (*plan, error) { return s.loadPlan(ctx, in.PractitionerID, in.AppointmentTypeID) })
	if err != nil {
		return store.Entry{}, err
	}
	if !p.typ.OnlineBookable {
		return store.Entry{}, &apperr.Error{Code: apperr.InvalidInput, Field: "appointmentTypeId", Reason: "NOT_BOOKABLE_ONLINE",
			Message: "this appointment type cannot be booked online"}
	}
	now := s.now()
	ty, tm, td := now.In(p.zone).Date()
	ly, lm, ld := in.LatestDate.Date()
	latestDate := time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC)
	if latestDate.Before(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)) {
		return store.Entry{}, apperr.Invalid("latestDate", "must not be in the past")
	}
	e := store.Entry{ID: uid.New(), Country: p.country, PractitionerID: p.practitionerID, AppointmentTypeID: canonicalID(p.typ.ID),
		PatientID: canonicalID(me), PersonID: canonicalID(me), LatestDate: latestDate, EarliestMinute: earliest,
		LatestMinute: latest, Weekdays: weekdays, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	var out store.Entry
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.LockPatient(ctx, e.PatientID); err != nil {
			return err
		}
		switch {
		case in.CurrentAppointmentID != "":
			a, err := tx.Lock(ctx, in.CurrentAppointmentID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && (a.PatientID != e.PatientID || a.HoldExpiresAt != nil)) {
				return apperr.NotFoundf("appointment %q not found", in.CurrentAppointmentID)
			}
			if err != nil {
				return err
			}
			if a.Status != store.StatusConfirmed || !a.StartsAt.After(now) || a.PractitionerID != e.PractitionerID ||
				a.AppointmentTypeID != e.AppointmentTypeID {
				return apperr.Invalid("currentAppointmentId", "must be an upcoming confirmed appointment with this practitioner, of this type")
			}
			if in.RelativeID != "" && canonicalID(in.RelativeID) != a.RelativeID {
				return apperr.Invalid("relativeId", "is not who the current appointment is for")
			}
			e.CurrentAppointmentID, e.RelativeID, e.PersonID = a.ID, a.RelativeID, a.PersonID
		case in.RelativeID != "":
			rel := canonicalID(in.RelativeID)
			ok, err := tx.IsRelative(ctx, e.PatientID, rel)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Invalid("relativeId", "is not one of your relatives")
			}
			e.RelativeID, e.PersonID = rel, rel
		}
		n, err := tx.CountWaiting(ctx, e.PatientID, e.PersonID, e.PractitionerID, e.AppointmentTypeID)
		if err != nil {
			return err
		}
		if n >= MaxWaitlistEntries {
			return &apperr.Error{Code: apperr.InvalidInput, Field: "practitionerId", Reason: "TOO_MANY_WAITLIST_ENTRIES",
				Message: "you already wait for the most earlier slots at once: leave one first"}
		}
		out, err = tx.PutEntry(ctx, e)
		return err
	})
	return out, err
}

// LeaveWaitlist takes one of the calling patient's entries off the
// waitlist; its live offer, if any, is withdrawn and its slot passes on at
// once. An entry that no longer waits is returned as it is.
func (s *Service) LeaveWaitlist(ctx context.Context, entryID string) (store.Entry, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Entry{}, err
	}
	if err := ids(field{"entryId", entryID}); err != nil {
		return store.Entry{}, err
	}
	var out store.Entry
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		e, err := tx.LockEntry(ctx, entryID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.PatientID != canonicalID(me)) {
			return apperr.NotFoundf("waitlist entry %q not found", entryID)
		}
		if err != nil {
			return err
		}
		out = e
		if e.Status != store.EntryWaiting {
			return nil
		}
		now := s.now()
		offerID, live, err := tx.LiveOfferOf(ctx, e.ID, now)
		if err != nil {
			return err
		}
		if live {
			if err := s.endOffer(ctx, tx, offerID, store.OfferWithdrawn, now); err != nil {
				return err
			}
		}
		out, err = tx.SetEntryStatus(ctx, e.ID, store.EntryLeft, now)
		return err
	})
	return out, err
}

// endOffer records an offer's end (status) and ends its hold if still held,
// passing the slot on (offerFreed) before its HoldReleased is written.
func (s *Service) endOffer(ctx context.Context, tx *store.Tx, offerID, status string, now time.Time) error {
	if _, err := tx.DecideOffer(ctx, offerID, status, now); err != nil {
		return err
	}
	h, err := tx.Lock(ctx, offerID)
	if err != nil || h.Status != store.StatusHeld {
		return err
	}
	ended, err := tx.EndHold(ctx, h.Country, h.ID, now)
	if err != nil {
		return err
	}
	if err := s.offerFreed(ctx, tx, ended, now); err != nil {
		return err
	}
	return s.emit(ctx, tx, eventdata.HoldReleased, ended, nil)
}

// Waitlist lists a patient's waiting entries, oldest first, each with its
// latest offer (only the patient themself).
func (s *Service) Waitlist(ctx context.Context, patientID string) ([]WaitlistItem, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return nil, err
	}
	if me != patientID {
		return nil, apperr.Forbiddenf("a patient may only read their own waitlist")
	}
	entries, offers, err := s.store.WaitingWithOffers(ctx, canonicalID(me))
	if err != nil {
		return nil, err
	}
	out := make([]WaitlistItem, len(entries))
	for i, e := range entries {
		out[i] = WaitlistItem{Entry: e, Offer: offers[i]}
	}
	return out, nil
}

// WaitlistEntries lists every entry of the calling patient, whatever its
// status (their data export).
func (s *Service) WaitlistEntries(ctx context.Context) ([]store.Entry, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.EntriesOf(ctx, canonicalID(me))
}

// Now is the service's clock (an offer's status depends on it).
func (s *Service) Now() time.Time { return s.now() }
