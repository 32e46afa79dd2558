// Package embedded is the in-process search engine, the default backend of
// store.Index. Per country (practitioners_{cc}) it keeps the documents in one
// slice and a geo grid of cellDeg° cells per specialty (plus one for all
// specialties), so "specialty near a point" reads only the cells the radius
// covers. A cell holds compact entries carrying everything the filters and
// sorts need except the text (position, next slot, rating, flags, a language
// bitmap), so a scan reads contiguous memory and touches a document or its
// practitioner only for text and for the page it returns. Practitioner fields
// live once per practitioner, not per location; strings that repeat (cities,
// languages, specialty labels) are interned. One RWMutex guards it all:
// searches share it, writes (a few µs each) take it alone.
//
// The files follow the engine's parts: grid.go (cells and their entries),
// update.go (writes, removals and versions), query.go (the planner: filters,
// candidate cells, cursor), ranking.go (sort keys and the top k).
package embedded

import (
	"context"
	"sync"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store"
)

// Index is the in-process index. It is safe for concurrent use.
type Index struct {
	mu        sync.RWMutex
	shards    map[string]*shard
	pracs     map[string]*prac
	locs      map[string]docRef
	langs     []string
	langIndex map[string]uint16
}

var _ store.Index = (*Index)(nil)

// shard is one country's documents and grid.
type shard struct {
	country string
	docs    []doc
	free    []int32
	live    int
	// grid maps cellKey(spec, la, lo) to the documents in the cell; spec 0 is "any".
	grid map[uint64][]entry
	// specCells lists each specialty's cells (some may have become empty).
	specCells map[uint16][]uint64
	specIndex map[string]uint16
	specs     []specialty // [0] is unused ("any")
	cities    map[string]string
}

type specialty struct {
	code, label, folded string // folded is wordsPadded(label)
}

// prac is a practitioner: the fields its documents share, its version and
// its next slot (kept while it has no document, for a later Upsert).
type prac struct {
	id        string
	sh        *shard // nil while the practitioner has no document
	version   int64
	next      int64 // unix seconds, noSlot for none
	nextAsOf  int64 // unix nanoseconds
	name      string
	folded    string // wordsPadded(name)
	specs     []uint16
	langs     []uint16
	docs      []int32
	rating    float64
	hasRating bool
	accepts   bool
	modes     uint8
}

// doc is one location document.
type doc struct {
	p        *prac // nil: a free slot
	id       string
	name     string
	city     string
	lat, lon float64
	// at is where the document's grid entries were last seen in their
	// cells (the all-specialties cell, then one per specialty, for the
	// first len(at)): a hint that spares a scan of the cell, which holds
	// every practice of a ~20 km square. A removal from a cell moves its
	// last entry, so a hint is checked before it is used.
	at [entryHints]int32
}

// entryHints is how many of a document's cells keep a position hint: most
// practices have one or two specialties.
const entryHints = 4

type docRef struct {
	sh *shard
	i  int32
}

// New returns an empty embedded index.
func New() *Index {
	return &Index{
		shards:    map[string]*shard{},
		pracs:     map[string]*prac{},
		locs:      map[string]docRef{},
		langIndex: map[string]uint16{},
	}
}

func (e *Index) shard(country string) *shard {
	sh := e.shards[country]
	if sh == nil {
		sh = &shard{
			country:   country,
			grid:      map[uint64][]entry{},
			specCells: map[uint16][]uint64{},
			specIndex: map[string]uint16{},
			specs:     make([]specialty, 1),
			cities:    map[string]string{},
		}
		e.shards[country] = sh
	}
	return sh
}

// EnsureIndex creates the country's shard.
func (e *Index) EnsureIndex(_ context.Context, country string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shard(country)
	return nil
}

// Count is the number of documents of a country.
func (e *Index) Count(_ context.Context, country string) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if sh := e.shards[country]; sh != nil {
		return sh.live, nil
	}
	return 0, nil
}

// Locations returns the documents with the given location ids.
func (e *Index) Locations(_ context.Context, ids []string) ([]store.Document, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]store.Document, 0, len(ids))
	for _, id := range ids {
		if ref, ok := e.locs[id]; ok {
			out = append(out, e.document(ref.sh, ref.i))
		}
	}
	return out, nil
}

// Practitioners returns one document per practitioner id.
func (e *Index) Practitioners(_ context.Context, ids []string) ([]store.Document, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]store.Document, 0, len(ids))
	for _, id := range ids {
		if p := e.pracs[id]; p != nil && p.sh != nil && len(p.docs) > 0 {
			out = append(out, e.document(p.sh, p.docs[0]))
		}
	}
	return out, nil
}

// document rebuilds a Document (caller holds a lock).
func (e *Index) document(sh *shard, i int32) store.Document {
	d := &sh.docs[i]
	p := d.p
	out := store.Document{
		ID: d.id, PractitionerID: p.id, Version: p.version, Country: sh.country,
		DisplayName: p.name, AcceptsNewPatients: p.accepts,
		LocationName: d.name, City: d.city, Lat: d.lat, Lon: d.lon,
	}
	for _, s := range p.specs {
		out.Specialties = append(out.Specialties, sh.specs[s].code)
		out.SpecialtyLabels = append(out.SpecialtyLabels, sh.specs[s].label)
	}
	for _, l := range p.langs {
		out.Languages = append(out.Languages, e.langs[l])
	}
	if p.hasRating {
		r := p.rating
		out.Rating = &r
	}
	if p.modes&modeInPerson != 0 {
		out.VisitModes = append(out.VisitModes, store.ModeInPerson)
	}
	if p.modes&modeVideo != 0 {
		out.VisitModes = append(out.VisitModes, store.ModeVideo)
	}
	if p.next != noSlot {
		t := time.Unix(p.next, 0).UTC()
		out.NextAvailableSlot = &t
	}
	return out
}
