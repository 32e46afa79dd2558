// Package business holds the booking service's rules: who may hold, book,
// move, cancel and mark no-shows, how a start is decided (by internal/slots,
// against the practitioner's schedule replica and the occupied ranges in
// PostgreSQL), idempotency, and which event each change emits.
//
// One file per use case: hold.go (Hold, ReleaseHold), book.go (Book),
// desk.go (BookAtDesk, desk patients' replica and claims),
// move.go (Reschedule), cancel.go (Cancel), noshow.go (MarkNoShow), read.go
// (the queries), replica.go (the replicas' consumers), sweeper.go (expiry
// and export), waitlist.go, offer.go and acceptoffer.go (earlier-slot
// offers). What they share: decide.go (the decision, pure), refusals.go
// (the errors a refusal maps to), practice.go (the practice snapshot a
// decision is made against), idempotency.go (keys and their answers),
// readthrough.go (deciding again with the practice owner's snapshot).
//
// PostgreSQL is the only gate: the decision turns away what is plainly not
// bookable, and the insert (ON CONFLICT DO NOTHING against the exclusion
// constraints) settles every race. A conflict is SLOT_UNAVAILABLE, never an
// internal error.
//
// The schedule replica may lag the practice's owner: a hold, booking or move
// it refuses for a reason of the practice's is decided again with the
// owner's snapshot when that is newer (readthrough.go).
package business

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Source is the CloudEvents source of this service's events.
var Source = events.Source("booking")

// Defaults of Options.
const (
	DefaultHoldTTL  = 5 * time.Minute
	MaxKeyLength    = 200
	MaxNoteLength   = 1000
	MaxReasonLength = 500
)

// Options tune the service.
type Options struct {
	// HoldTTL is how long a hold lives (DefaultHoldTTL when zero).
	HoldTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Owner reads a practice from the practitioner service when the
	// schedule replica refused a request (nil: the replica's answer stands).
	Owner PracticeOwner
	// OwnerTimeout bounds such a read (DefaultOwnerTimeout when zero), and
	// a read from DeskPatients.
	OwnerTimeout time.Duration
	// DeskPatients reads a desk patient from the patient service when the
	// replica has not learnt it yet (nil: the replica's answer stands).
	DeskPatients DeskPatientOwner
}

// Service is the booking business layer.
type Service struct {
	store     *store.Store
	countries *countries.Catalog
	now       func() time.Time
	holdTTL   time.Duration
	log       *slog.Logger
	plans     *planCache // decoded schedule replicas
	// owner, ownerTimeout and ownerReads serve the replica read-through
	// (readthrough.go).
	owner        PracticeOwner
	ownerTimeout time.Duration
	ownerReads   singleflight.Group
	deskOwner    DeskPatientOwner // desk.go
}

// New builds the service.
func New(st *store.Store, cat *countries.Catalog, opts Options) *Service {
	s := &Service{store: st, countries: cat, now: opts.Now, holdTTL: opts.HoldTTL, log: opts.Logger,
		plans: newPlanCache(DefaultPlanCacheSize), owner: opts.Owner, ownerTimeout: opts.OwnerTimeout,
		deskOwner: opts.DeskPatients}
	if s.ownerTimeout <= 0 {
		s.ownerTimeout = DefaultOwnerTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.holdTTL <= 0 {
		s.holdTTL = DefaultHoldTTL
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// HoldTTL is how long a new hold lives.
func (s *Service) HoldTTL() time.Duration { return s.holdTTL }

// limits are the country's domain limits (the defaults for a country the
// catalogue does not serve).
func (s *Service) limits(country string) countries.Limits {
	if c, ok := s.countries.Get(country); ok {
		return c.Limits
	}
	return countries.DefaultLimits
}

// dayLimit is what a booking made at now counts against: the country's local
// date then and its bookings per account, practice and day.
func (s *Service) dayLimit(country string, now time.Time) store.DayLimit {
	zone := time.UTC
	if c, ok := s.countries.Get(country); ok && c.Location() != nil {
		zone = c.Location()
	}
	y, m, d := now.In(zone).Date()
	return store.DayLimit{Day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), Max: s.limits(country).BookingsPerPatientPerPracticePerDay}
}

// onceMoreIfConnectionLost runs a keyed change (a booking, a move) again when
// its database connection died under it — the server restarted, an operator
// terminated the sessions — instead of failing the caller: the idempotency
// key makes the second run answer what the first committed, if it did. The
// pool's other connections likely died too: they are dropped first.
func onceMoreIfConnectionLost[T any](s *Service, run func() (T, error)) (T, error) {
	out, err := run()
	if store.ConnectionLost(err) {
		s.log.Warn("booking: database connection lost; reconnecting and trying once more", "err", err)
		s.store.DropConnections()
		out, err = run()
	}
	return out, err
}

// emit writes a booking event (keyed by practitioner id) to the outbox in tx.
func (s *Service) emit(ctx context.Context, tx *store.Tx, eventType string, a store.Appointment, prev *eventdata.Slot) error {
	ev, err := newEvent(eventType, a, prev)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, events.BookingEvents, a.PractitionerID, ev)
}

// newEvent is the booking event of type eventType about row a (prev: the
// slot a move left).
func newEvent(eventType string, a store.Appointment, prev *eventdata.Slot) (events.Envelope, error) {
	data := Payload(a)
	data.Previous = prev
	return events.New(Source, eventType, a.ID, data)
}

// Payload converts a row to the booking event contract.
func Payload(a store.Appointment) eventdata.Appointment {
	return eventdata.Appointment{
		ID: a.ID, Version: a.Version, PractitionerID: a.PractitionerID, Country: a.Country, PatientID: a.PatientID,
		RelativeID: a.RelativeID, AppointmentTypeID: a.AppointmentTypeID, LocationID: a.LocationID, Status: a.Status,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, BlockedFrom: a.BlockedFrom, BlockedUntil: a.BlockedUntil,
		HoldExpiresAt: a.HoldExpiresAt, CancelledBy: a.CancelledBy, CancellationReason: a.CancellationReason,
		DeskPatient: a.DeskPatient, SeriesID: a.SeriesID, SeriesIndex: a.SeriesIndex,
	}
}

type field struct{ name, value string }

// ids is NOT_FOUND for the first field that is not an id at all.
func ids(fs ...field) error {
	for _, f := range fs {
		if !uid.Valid(f.value) {
			return apperr.NotFoundf("%s %q not found", strings.TrimSuffix(f.name, "Id"), f.value)
		}
	}
	return nil
}

func notFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("appointment %q not found", id)
	}
	return err
}
