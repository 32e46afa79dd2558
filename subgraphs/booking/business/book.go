package business

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// BookInput is a booking request.
type BookInput struct {
	PractitionerID    string
	AppointmentTypeID string
	StartsAt          time.Time
	IdempotencyKey    string
	HoldID            string // optional: the caller's live hold on this slot
	RelativeID        string // optional: one of the caller's relatives
	Note              string
}

// bookRequest is a booking request once checked.
type bookRequest struct {
	in    BookInput
	me    string // the calling account: the idempotency key's subject
	key   string // the idempotency key
	note  string
	start time.Time // UTC
	hash  []byte    // the request's content, for the key
	// op is the key's operation (opBook when empty, or opAcceptOffer). A
	// desk booking (desk.go) is for patient (a desk patient, deskPatient
	// true, or the account that claimed one) and decided with the desk's
	// rules, none of the online-only ones (nor the no-show restriction:
	// store.Booking.AtDesk); otherwise the booking is for me (or
	// in.RelativeID).
	op          string
	desk        bool
	patient     string
	deskPatient bool
	// offer, when set, is the earlier-slot offer the booking accepts (its
	// hold is in.HoldID).
	offer *store.OfferTaken
}

// operation is the idempotency key's operation.
func (r bookRequest) operation() string {
	if r.op == "" {
		return opBook
	}
	return r.op
}

// patientID is the account (or desk patient) the booking is for.
func (r bookRequest) patientID() string {
	if r.patient == "" {
		return r.me
	}
	return r.patient
}

// Book books a slot for the calling patient or one of their relatives. Every
// booking, with or without a hold, takes the same three steps:
//
//  1. read, in one round trip (readForBooking): the idempotency key — a used
//     key answers at once —, the practice's schedule replica, whether the
//     person was seen before, the occupied ranges of the days the booking
//     touches, the patient's name and relatives, and the hold it replaces;
//  2. decide (decideBooking, decide.go: no I/O), which turns away what is
//     plainly not bookable and says what to write;
//  3. commit, in one store call (commitBooking): the appointment, its key
//     with the answer, its count for the day and AppointmentBooked in one
//     statement, with the replaced hold's end (HoldReleased) in the same
//     transaction. The exclusion constraints settle every race.
//
// A refusal stores nothing. A booking the schedule replica refused is decided
// again with the practice owner's snapshot when that is newer
// (withFreshPractice), and one whose database connection died runs once more
// (the key answers if the first run committed).
func (s *Service) Book(ctx context.Context, in BookInput) (store.Appointment, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Appointment{}, err
	}
	req, err := checkBooking(me, in)
	if err != nil {
		return store.Appointment{}, err
	}
	return onceMoreIfConnectionLost(s, func() (store.Appointment, error) {
		return withFreshPractice(ctx, s, func() (store.Appointment, error) { return s.book(ctx, req) })
	})
}

// checkBooking checks a booking request's input.
func checkBooking(me string, in BookInput) (bookRequest, error) {
	fs := []field{{"practitionerId", in.PractitionerID}, {"appointmentTypeId", in.AppointmentTypeID}}
	if in.HoldID != "" {
		fs = append(fs, field{"holdId", in.HoldID})
	}
	if in.RelativeID != "" {
		fs = append(fs, field{"relativeId", in.RelativeID})
	}
	if err := ids(fs...); err != nil {
		return bookRequest{}, err
	}
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return bookRequest{}, err
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > MaxNoteLength {
		return bookRequest{}, apperr.Invalid("note", "must be at most %d characters", MaxNoteLength)
	}
	start := in.StartsAt.UTC()
	return bookRequest{in: in, me: me, key: key, note: note, start: start, op: opBook,
		hash: requestHash(opBook, in.PractitionerID, in.AppointmentTypeID, start.Format(time.RFC3339Nano), in.HoldID, in.RelativeID, note),
	}, nil
}

// book is Book once its input is checked: read, decide, commit.
func (s *Service) book(ctx context.Context, req bookRequest) (store.Appointment, error) {
	now := s.now()
	r, p, err := s.readForBooking(ctx, req, now)
	if err != nil {
		return store.Appointment{}, err
	}
	if r.HasKey {
		a, err := storedAnswer(r.Key, req.operation(), req.hash)
		return a.Appointment, err
	}
	limit := s.dayLimit(p.country, now)
	if req.desk {
		limit = store.DayLimit{Uncounted: true}
	}
	b, err := decideBooking(req, p, r, now, limit)
	if err != nil {
		return store.Appointment{}, err
	}
	return s.commitBooking(ctx, req, p, b, now)
}

// maxScheduleReads bounds how often readForBooking reads again because the
// schedule replica changed under it.
const maxScheduleReads = 4

// readForBooking reads what the decision needs (store.ReadForBooking) and
// the practice's plan. The occupied ranges to read depend on the plan, so
// the read names the version of the practice cached here: when the replica
// has another, its snapshot comes back instead, is decoded and cached, and
// the read is made again with it. A used key (r.HasKey) is returned at once.
func (s *Service) readForBooking(ctx context.Context, req bookRequest, now time.Time) (store.BookRead, *plan, error) {
	in := req.in
	pid := canonicalID(in.PractitionerID)
	person, relative := canonicalID(req.patientID()), ""
	if in.RelativeID != "" {
		relative = canonicalID(in.RelativeID)
		person = relative
	}
	pr := s.plans.get(pid)
	for attempt := 0; ; attempt++ {
		q := store.BookReadQuery{Subject: req.me, Key: req.key, PractitionerID: pid, KnownVersion: knownVersion(pr),
			PersonID: person, Start: req.start, Now: now, PatientID: canonicalID(req.patientID()), RelativeID: relative, RelativeOf: in.RelativeID,
			HoldID: in.HoldID}
		var (
			p       *plan
			planErr error
		)
		if pr != nil {
			if p, planErr = planOf(pr, pid, in.PractitionerID, in.AppointmentTypeID); planErr == nil {
				_, from, to, err := blockedWindow(p, req.start)
				if err != nil {
					return store.BookRead{}, nil, err
				}
				q.Country, q.BlockedFrom, q.BlockedTo = p.country, from, to
			}
		}
		r, err := s.store.ReadForBooking(ctx, q)
		if err != nil || r.HasKey {
			return r, nil, err
		}
		if !r.ScheduleFound {
			return store.BookRead{}, nil, byReplica(apperr.NotFoundf("practitioner %q not found", in.PractitionerID), pid, 0)
		}
		if r.Schedule.Snapshot == nil && pr != nil && pr.version == r.Schedule.Version {
			return r, p, planErr
		}
		// A plan not of the replica's version: decode this one and read again.
		if attempt+1 == maxScheduleReads {
			return store.BookRead{}, nil, fmt.Errorf("booking: practitioner %s schedule keeps changing", pid)
		}
		if pr, err = s.practiceOf(pid, r.Schedule, pr); err != nil {
			return store.BookRead{}, nil, err
		}
		if _, err := planOf(pr, pid, in.PractitionerID, in.AppointmentTypeID); err != nil {
			return store.BookRead{}, nil, err
		}
	}
}

// commitBooking writes the booking decided (store.Book) and returns it. When
// the insert wrote nothing: a retry with the same key that lost the race to
// the first request finds that request's key (the insert waited for its
// transaction) and gets its answer; a hold that has expired but is still
// HELD is expired (with its HoldReleased) and the booking written once more;
// otherwise the slot, or the person, is busy.
func (s *Service) commitBooking(ctx context.Context, req bookRequest, p *plan, b store.Booking, now time.Time) (store.Appointment, error) {
	a := b.Appointment
	expired := false
	for {
		ok, err := s.store.Book(ctx, b)
		if errors.Is(err, store.ErrKeyTaken) {
			// Another request committed this key first (the insert waited
			// for it): its answer, or INVALID_INPUT for another request.
			got, found, err := s.replay(ctx, req.me, req.key, req.operation(), req.hash)
			if err == nil && !found {
				err = fmt.Errorf("booking: idempotency key %q vanished", req.key)
			}
			return got.Appointment, err
		}
		if errors.Is(err, store.ErrOfferTaken) {
			// Another accept took the offer first: its answer for this very
			// request (same key), else the offer is gone.
			got, found, err := s.replay(ctx, req.me, req.key, req.op, req.hash)
			if err == nil && !found {
				err = offerUnavailable()
			}
			return got.Appointment, err
		}
		if err != nil {
			return store.Appointment{}, conflict(err)
		}
		if ok {
			return a, nil
		}
		why, err := s.store.WhyNoRow(ctx, store.NoRowQuery{Subject: req.me, Key: req.key, Country: a.Country,
			PractitionerID: a.PractitionerID, BlockedFrom: a.BlockedFrom, BlockedUntil: a.BlockedUntil, Now: now,
			PatientID: a.PatientID, AtDesk: b.AtDesk})
		if err != nil {
			return store.Appointment{}, err
		}
		switch {
		case why.HasKey:
			got, err := storedAnswer(why.Key, req.operation(), req.hash)
			return got.Appointment, err
		case why.Restriction != nil:
			// A restriction committed between the read and the booking.
			return store.Appointment{}, restricted(*why.Restriction)
		case why.ExpiredHold && !expired:
			// A hold that is due but not yet swept stands in the way: expire
			// it (and whatever else is due there), then try once more.
			expired = true
			if err := s.store.InTx(ctx, func(tx *store.Tx) error { return s.expireOverlapping(ctx, tx, p, req.start, now) }); err != nil {
				return store.Appointment{}, err
			}
		default:
			return store.Appointment{}, slotTaken()
		}
	}
}
