package business

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Replica read-through (ADR 8): the schedule replica learns a practice from
// practitioner-events, a few milliseconds (or, with a consumer behind, a few
// seconds) after the change, while availability, fed by its own consumer, may
// already list the new slots. A decision the replica refused for a reason its
// snapshot decides is therefore checked against the practice's owner: when
// the owner has a newer snapshot, the replica keeps it (the consumer's
// versioned upsert, so the event is a no-op when it comes) and the request is
// decided once more. Accepted requests never pay for it.

// PracticeOwner reads a practice's current snapshot from the service that
// owns it (the practitioner service's internal endpoint).
type PracticeOwner interface {
	// Practice is the practice's snapshot as its events carry it
	// (eventdata.Practitioner JSON, with its version), or ErrPracticeUnknown.
	Practice(ctx context.Context, practitionerID string) (json.RawMessage, error)
}

// ErrPracticeUnknown is the owner's answer for a practice it does not have.
var ErrPracticeUnknown = errors.New("booking: the practice's owner does not know it")

// DefaultOwnerTimeout bounds a read from the practice's owner: past it, the
// replica's answer stands.
const DefaultOwnerTimeout = 500 * time.Millisecond

// replicaRefusal is a refusal the schedule replica decided, with the
// practice's version in it (0: the replica had no such practice). It reads
// and unwraps as the refusal itself, so it is the client's answer as is.
type replicaRefusal struct {
	err            error
	practitionerID string // canonical
	version        int64
}

func (e *replicaRefusal) Error() string { return e.err.Error() }
func (e *replicaRefusal) Unwrap() error { return e.err }

// byReplica marks err as decided by the replica of practitionerID at version.
func byReplica(err error, practitionerID string, version int64) error {
	return &replicaRefusal{err: err, practitionerID: practitionerID, version: version}
}

// snapshotDecides says whether a refusal's reason depends on the practice's
// snapshot (its hours, types, absences, rules), which a newer version may
// change; a taken slot, a start in the past or off the 5-minute grid do not.
func snapshotDecides(r slots.Reason) bool {
	switch r {
	case slots.ReasonTaken, slots.ReasonInPast, slots.ReasonNotOnTick:
		return false
	}
	return true
}

// withFreshPractice runs decide (a hold, a booking, a move). When the
// schedule replica refused it and the practice's owner has a newer snapshot,
// the replica keeps that snapshot and decide runs once more (a refusal
// stored nothing: no hold, no appointment, no idempotency key). Otherwise,
// and when the owner cannot answer within ownerTimeout, the first answer
// stands.
func withFreshPractice[T any](ctx context.Context, s *Service, decide func() (T, error)) (T, error) {
	out, err := decide()
	var stale *replicaRefusal
	if !errors.As(err, &stale) {
		return out, err
	}
	if s.refreshPractice(ctx, stale.practitionerID, stale.version) {
		out, err = decide()
	}
	if r, ok := err.(*replicaRefusal); ok {
		err = r.err
	}
	return out, err
}

// refreshPractice asks the practice's owner for its snapshot and, when it is
// newer than version (the one a refusal was decided with), stores it in the
// replica and reports true. Concurrent refusals about one practice share one
// read.
func (s *Service) refreshPractice(ctx context.Context, practitionerID string, version int64) bool {
	if s.owner == nil {
		return false
	}
	v, err, _ := s.ownerReads.Do(practitionerID, func() (any, error) {
		// The read is shared: one caller's cancellation must not fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ownerTimeout)
		defer cancel()
		return s.readFromOwner(ctx, practitionerID)
	})
	if err != nil {
		if !errors.Is(err, ErrPracticeUnknown) {
			s.log.WarnContext(ctx, "booking: the practice's owner did not answer; the replica's answer stands",
				"practitioner_id", practitionerID, "err", err)
		}
		return false
	}
	newer := v.(int64) > version
	if newer {
		s.log.InfoContext(ctx, "booking: practice read from its owner, the replica lagged",
			"practitioner_id", practitionerID, "replica_version", version, "owner_version", v)
	}
	return newer
}

// readFromOwner reads the practice from its owner into the replica (the
// consumer's upsert: only a newer version replaces the replica) and returns
// the owner's version.
func (s *Service) readFromOwner(ctx context.Context, practitionerID string) (int64, error) {
	raw, err := s.owner.Practice(ctx, practitionerID)
	if err != nil {
		return 0, err
	}
	var p eventdata.Practitioner
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, err
	}
	if !uid.Valid(p.ID) || canonicalID(p.ID) != practitionerID || p.Country == "" || p.Version <= 0 {
		return 0, errors.New("booking: the owner answered another or a malformed practice")
	}
	// Stored as the owner wrote it, as an event's data is.
	if _, err := s.store.PutSchedule(ctx, store.Schedule{PractitionerID: practitionerID, Country: p.Country,
		Version: p.Version, Snapshot: bytes.TrimSpace(raw)}); err != nil {
		return 0, err
	}
	return p.Version, nil
}
