package business

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The practice snapshot a decision is made against: the practitioner's
// schedule replica (fed by practitioner-events, read through from the owner
// when it lags: readthrough.go), decoded once per version and kept in a
// bounded cache, and the plan of one appointment type drawn from it.

// plan is what deciding a start for one practitioner and type needs, built
// from the practitioner's schedule replica.
type plan struct {
	practitionerID string
	// version is that of the practice snapshot the plan was built from.
	version  int64
	country  string
	typ      slots.Type
	rules    []slots.Rule
	absences []slots.Interval
	// zone is the agenda's zone: the first location's (the country's when
	// the practitioner has no location yet).
	zone *time.Location
	// fallbackLocation is the location recorded when no rule names one.
	fallbackLocation string
}

// loadPlan reads the practitioner's schedule replica and the appointment
// type: NOT_FOUND when the practitioner is unknown here or the type is not
// one of theirs. The snapshot is decoded once per version (the plan cache):
// the read only carries it when the cached version is not the replica's.
func (s *Service) loadPlan(ctx context.Context, practitionerID, typeID string) (*plan, error) {
	id := canonicalID(practitionerID)
	cached := s.plans.get(id)
	sc, err := s.store.ScheduleIfNewer(ctx, practitionerID, knownVersion(cached))
	if errors.Is(err, store.ErrNotFound) {
		return nil, byReplica(apperr.NotFoundf("practitioner %q not found", practitionerID), id, 0)
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

// planOf is the practice's plan for typeID, or the NOT_FOUND a client sees
// (marked as the replica's: a newer snapshot may know the type).
func planOf(pr *practice, id, practitionerID, typeID string) (*plan, error) {
	if pr.country == "" {
		return nil, byReplica(apperr.NotFoundf("practitioner %q not found", practitionerID), id, pr.version)
	}
	p, ok := pr.plan(id, typeID)
	if !ok {
		return nil, byReplica(apperr.NotFoundf("appointment type %q not found", typeID), id, pr.version)
	}
	return p, nil
}

// practice is a practitioner's schedule replica decoded for decisions, once
// per (practitioner, version): plans share it and never change it.
type practice struct {
	version int64
	// country is the catalogue's code; "" when the replica's country is not
	// in the catalogue (the practitioner is then not found here).
	country          string
	zone             *time.Location
	fallbackLocation string
	rules            []slots.Rule
	absences         []slots.Interval
	types            map[string]slots.Type
	// noShow is the practice's own no-show policy (nil: its country's).
	noShow *countries.NoShowPolicy
}

// decodePractice decodes a schedule replica.
func (s *Service) decodePractice(sc store.Schedule) (*practice, error) {
	var snap eventdata.Practitioner
	if err := json.Unmarshal(sc.Snapshot, &snap); err != nil {
		return nil, fmt.Errorf("booking: practitioner %s snapshot: %w", sc.PractitionerID, err)
	}
	pr := &practice{version: sc.Version}
	if np := snap.NoShowPolicy; np != nil {
		pr.noShow = &countries.NoShowPolicy{Limit: np.Limit, PeriodDays: np.PeriodDays, RestrictionDays: np.RestrictionDays}
	}
	country, ok := s.countries.Get(sc.Country)
	if !ok {
		return pr, nil
	}
	t := slots.FromSnapshot(snap, country.Location())
	pr.country, pr.zone, pr.fallbackLocation = country.Code, t.Zone, t.FirstLocationID
	pr.rules, pr.absences = t.Rules, t.Absences
	pr.types = make(map[string]slots.Type, len(t.Types))
	for _, typ := range t.Types {
		if _, dup := pr.types[typ.ID]; !dup { // the first of an id wins, as it always did
			pr.types[typ.ID] = typ
		}
	}
	return pr, nil
}

// plan is the practice's plan for one appointment type (ok false when the
// type is not one of the practitioner's).
func (pr *practice) plan(practitionerID, typeID string) (*plan, bool) {
	t, ok := pr.types[typeID]
	if !ok {
		return nil, false
	}
	return &plan{practitionerID: practitionerID, version: pr.version, country: pr.country, typ: t, rules: pr.rules, absences: pr.absences,
		zone: pr.zone, fallbackLocation: pr.fallbackLocation}, true
}

// practiceOf returns the practice of a schedule read with ScheduleIfNewer
// against cached (nil when none): cached when the read carries no snapshot,
// else the decoded snapshot, which replaces cached.
func (s *Service) practiceOf(practitionerID string, sc store.Schedule, cached *practice) (*practice, error) {
	if sc.Snapshot == nil && cached != nil && cached.version == sc.Version {
		return cached, nil
	}
	pr, err := s.decodePractice(sc)
	if err != nil {
		return nil, err
	}
	s.plans.put(practitionerID, pr)
	return pr, nil
}

// knownVersion is the version to pass to the store's conditional schedule
// reads for a cached practice (nil when none).
func knownVersion(pr *practice) *int64 {
	if pr == nil {
		return nil
	}
	v := pr.version
	return &v
}

// canonicalID is the lower-case form PostgreSQL gives a UUID back in.
func canonicalID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return u.String()
}

// DefaultPlanCacheSize bounds the decoded schedules kept in memory.
const DefaultPlanCacheSize = 4096

// planCache is a bounded LRU of decoded practices by practitioner id.
type planCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *planEntry, most recently used first
	byID  map[string]*list.Element
}

type planEntry struct {
	id string
	pr *practice
}

func newPlanCache(max int) *planCache {
	return &planCache{max: max, order: list.New(), byID: make(map[string]*list.Element)}
}

func (c *planCache) get(id string) *practice {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*planEntry).pr
}

// put caches pr unless a newer version of the practice is cached already.
func (c *planCache) put(id string, pr *practice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		ent := e.Value.(*planEntry)
		if ent.pr.version <= pr.version {
			ent.pr = pr
		}
		c.order.MoveToFront(e)
		return
	}
	c.byID[id] = c.order.PushFront(&planEntry{id: id, pr: pr})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byID, old.Value.(*planEntry).id)
	}
}
