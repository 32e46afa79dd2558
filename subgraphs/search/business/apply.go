package business

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/search/store"
)

// SnapshotStream streams practitioner snapshots in batches.
type SnapshotStream func(fn func([]eventdata.Practitioner) error) error

// NextSlotStream streams next available slots in batches.
type NextSlotStream func(fn func([]eventdata.Availability) error) error

// HandleEvent applies one event from practitioner-events or
// availability-events; other event types are ignored. It is idempotent:
// snapshots apply by version and availability by event time.
func (s *Service) HandleEvent(ctx context.Context, ev events.Envelope) error {
	switch {
	case strings.HasPrefix(ev.Type, eventdata.PractitionerEventPrefix):
		var p eventdata.Practitioner
		if err := ev.DataAs(&p); err != nil {
			return events.Malformed(ev, err)
		}
		_, err := s.ApplySnapshot(ctx, p)
		return err
	case ev.Type == eventdata.AvailabilityChanged:
		var a eventdata.Availability
		if err := ev.DataAs(&a); err != nil {
			return events.Malformed(ev, err)
		}
		asOf := ev.Time
		if asOf.IsZero() {
			asOf = s.now()
		}
		_, err := s.ApplyAvailability(ctx, a, asOf)
		return err
	}
	return nil
}

// Documents turns a snapshot into its practice: one document per location,
// in the snapshot's country. A practitioner of a country not served has no
// documents.
func (s *Service) Documents(p eventdata.Practitioner) store.Practice {
	pr := store.Practice{ID: p.ID, Country: p.Country, Version: p.Version}
	if _, ok := s.countries.Get(p.Country); !ok {
		return pr
	}
	var modes []string
	types := make([]store.AppointmentType, 0, len(p.AppointmentTypes))
	for _, t := range p.AppointmentTypes {
		if !slices.Contains(modes, t.VisitMode) {
			modes = append(modes, t.VisitMode)
		}
		types = append(types, store.AppointmentType{ID: t.ID, Name: t.Name, VisitMode: t.VisitMode, NewPatientsAllowed: t.NewPatientsAllowed})
	}
	slices.Sort(modes)
	labels := make([]string, len(p.Specialties))
	for i, code := range p.Specialties {
		labels[i] = s.SpecialtyLabel(p.Country, code)
	}
	for _, l := range p.Locations {
		pr.Docs = append(pr.Docs, store.Document{
			ID: l.ID, PractitionerID: p.ID, Version: p.Version, Country: p.Country,
			DisplayName: p.DisplayName, Specialties: p.Specialties, SpecialtyLabels: labels,
			Languages: p.Languages, AcceptsNewPatients: p.AcceptsNewPatients, Rating: p.Rating,
			VisitModes: modes, AppointmentTypes: types,
			LocationName: l.Name, City: l.City, Lat: l.Lat, Lon: l.Lon,
		})
	}
	return pr
}

// ApplySnapshot replaces the practitioner's documents with the snapshot's
// unless the index has that version or a later one. It then invalidates the
// cached pages of the practitioner's country (and of its former country).
func (s *Service) ApplySnapshot(ctx context.Context, p eventdata.Practitioner) (bool, error) {
	applied, former, err := s.applySnapshot(ctx, p)
	if err != nil || !applied {
		return applied, err
	}
	return true, s.bump(ctx, p.Country, former)
}

// applySnapshot indexes a snapshot without invalidating cached pages (a bulk
// load bumps each country's generation once at the end, not per practice).
func (s *Service) applySnapshot(ctx context.Context, p eventdata.Practitioner) (applied bool, former string, err error) {
	unlock := s.locks.lock(p.ID)
	defer unlock()
	if prev, err := s.index.Practitioners(ctx, []string{p.ID}); err != nil {
		return false, "", err
	} else if len(prev) > 0 && prev[0].Country != p.Country {
		former = prev[0].Country
	}
	applied, err = s.index.Upsert(ctx, s.Documents(p))
	return applied, former, err
}

// ApplyAvailability records a practitioner's next open slot as of asOf.
// Cached pages are not invalidated: a next slot may be stale in them for at
// most the cache TTL.
func (s *Service) ApplyAvailability(ctx context.Context, a eventdata.Availability, asOf time.Time) (bool, error) {
	unlock := s.locks.lock(a.PractitionerID)
	defer unlock()
	return s.index.SetNextAvailable(ctx, a.Country, a.PractitionerID, a.NextAvailableSlot, asOf)
}

// DeletePractitioner removes a practitioner from search as of version.
func (s *Service) DeletePractitioner(ctx context.Context, country, id string, version int64) (bool, error) {
	unlock := s.locks.lock(id)
	defer unlock()
	applied, err := s.index.DeletePractitioner(ctx, country, id, version)
	if err != nil || !applied {
		return applied, err
	}
	return true, s.bump(ctx, country)
}

func (s *Service) bump(ctx context.Context, countries ...string) error {
	if s.cache == nil {
		return nil
	}
	for _, c := range countries {
		if c == "" {
			continue
		}
		if err := s.cache.Bump(ctx, c); err != nil {
			return fmt.Errorf("search: invalidate cache of %s: %w", c, err)
		}
	}
	return nil
}

// Load warms the index from a stream of every snapshot (and, optionally, of
// every next available slot) without emptying it first: snapshots apply by
// version, so events consumed meanwhile are not undone.
func (s *Service) Load(ctx context.Context, snapshots SnapshotStream, nextSlots NextSlotStream) (int, error) {
	asOf := s.now()
	for _, c := range s.countries.Codes() {
		if err := s.index.EnsureIndex(ctx, c); err != nil {
			return 0, err
		}
	}
	n := 0
	if snapshots != nil {
		err := snapshots(func(batch []eventdata.Practitioner) error {
			for _, p := range batch {
				if _, _, err := s.applySnapshot(ctx, p); err != nil {
					return err
				}
				n++
			}
			return ctx.Err()
		})
		if err != nil {
			return n, fmt.Errorf("search: load snapshots: %w", err)
		}
	}
	if nextSlots != nil {
		err := nextSlots(func(batch []eventdata.Availability) error {
			for _, a := range batch {
				if _, err := s.ApplyAvailability(ctx, a, asOf); err != nil {
					return err
				}
			}
			return ctx.Err()
		})
		if err != nil {
			return n, fmt.Errorf("search: load next slots: %w", err)
		}
	}
	return n, s.bump(ctx, s.countries.Codes()...)
}

// Rebuild empties every served country's index and fills it again from the
// authoritative streams: practitioner snapshots, then next available slots
// (as of the rebuild's start, so availability events newer than that still
// win).
func (s *Service) Rebuild(ctx context.Context, practitioners SnapshotStream, nextSlots NextSlotStream) (int, error) {
	for _, c := range s.countries.Codes() {
		if err := s.index.Reset(ctx, c); err != nil {
			return 0, fmt.Errorf("search: reset %s: %w", c, err)
		}
	}
	return s.Load(ctx, practitioners, nextSlots)
}

// stripes serialises the handling of one practitioner's events (snapshots
// and availability arrive on different topics and partitions).
type stripes struct {
	once sync.Once
	seed maphash.Seed
	mu   [64]sync.Mutex
}

func (st *stripes) lock(id string) func() {
	st.once.Do(func() { st.seed = maphash.MakeSeed() })
	m := &st.mu[maphash.String(st.seed, id)%uint64(len(st.mu))]
	m.Lock()
	return m.Unlock
}
