package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Embedded is the in-process index. Per country (practitioners_{cc}) it
// keeps the documents in one slice and a geo grid of cellDeg° cells per
// specialty (plus one for all specialties), so "specialty near a point" reads
// only the cells the radius covers. A cell holds compact entries carrying
// everything the filters and sorts need except the text (position, next
// slot, rating, flags, a language bitmap), so a scan reads contiguous memory
// and touches a document or its practitioner only for text and for the page
// it returns. Practitioner fields live once per practitioner, not per
// location; strings that repeat (cities, languages, specialty labels) are
// interned. One RWMutex guards it all: searches share it, writes (a few µs
// each) take it alone.
type Embedded struct {
	mu        sync.RWMutex
	shards    map[string]*shard
	pracs     map[string]*prac
	locs      map[string]docRef
	langs     []string
	langIndex map[string]uint16
}

// cellDeg is the grid's cell size in degrees: ~22 km of latitude, ~15 km of
// longitude at 48°N. A typical 10–25 km radius reads 4–12 cells.
const cellDeg = 0.2

const (
	latCells = 900  // 180 / cellDeg
	lonCells = 1800 // 360 / cellDeg
	noSlot   = math.MaxInt64
)

type shard struct {
	country string
	docs    []doc
	free    []int32
	live    int
	// grid maps cellKey(spec, lat, lon) to the documents in the cell; spec 0 is "any".
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

const (
	modeInPerson uint8 = 1 << iota
	modeVideo
	flagAccepts
	flagRating
	flagManyLangs // a language beyond the bitmap's 64: check the practitioner
	flagManySpecs // a specialty beyond the bitmap's 64: check the practitioner
)

// entry is a document in a grid cell, with what filtering and sorting read.
type entry struct {
	lat, lon float64
	next     int64  // unix seconds, noSlot for none
	langs    uint64 // bit i: language i of the global table (i < 64)
	specs    uint64 // bit i: specialty i of the shard (i < 64)
	i        int32  // index in shard.docs
	rating   float32
	names    uint32 // nameSig of the display name's words
	flags    uint8  // visit modes, flagAccepts, flagRating, flagManyLangs, flagManySpecs
}

// nameSig is a 32-bit signature of words by their first two letters: a
// query word w (of two letters or more) can prefix a word of the name only
// if the name's signature has nameSig(w)'s bit, so most names are rejected
// without being read.
func nameSig(folded string) uint32 {
	var sig uint32
	for _, w := range strings.Fields(folded) {
		sig |= wordBit(w)
	}
	return sig
}

func wordBit(w string) uint32 {
	if len(w) < 2 {
		return 0
	}
	return 1 << ((uint32(w[0])*31 + uint32(w[1])) % 32)
}

func (e *Embedded) entryOf(p *prac, i int32, lat, lon float64) entry {
	en := entry{lat: lat, lon: lon, next: p.next, i: i, rating: float32(p.rating), flags: p.modes, names: nameSig(p.folded)}
	for _, s := range p.specs {
		if s < 64 {
			en.specs |= 1 << s
		} else {
			en.flags |= flagManySpecs
		}
	}
	if p.accepts {
		en.flags |= flagAccepts
	}
	if p.hasRating {
		en.flags |= flagRating
	}
	for _, l := range p.langs {
		if l < 64 {
			en.langs |= 1 << l
		} else {
			en.flags |= flagManyLangs
		}
	}
	return en
}

type doc struct {
	p        *prac // nil: a free slot
	id       string
	name     string
	city     string
	lat, lon float64
}

type docRef struct {
	sh *shard
	i  int32
}

var _ Index = (*Embedded)(nil)

// NewEmbedded returns an empty embedded index.
func NewEmbedded() *Embedded {
	return &Embedded{
		shards:    map[string]*shard{},
		pracs:     map[string]*prac{},
		locs:      map[string]docRef{},
		langIndex: map[string]uint16{},
	}
}

func (e *Embedded) shard(country string) *shard {
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
func (e *Embedded) EnsureIndex(_ context.Context, country string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shard(country)
	return nil
}

func cellOf(lat, lon float64) (int, int) {
	la := int(math.Floor((lat + 90) / cellDeg))
	lo := int(math.Floor((lon + 180) / cellDeg))
	return min(max(la, 0), latCells-1), ((lo % lonCells) + lonCells) % lonCells
}

func cellKey(spec uint16, la, lo int) uint64 {
	return uint64(spec)<<32 | uint64(la)<<16 | uint64(lo)
}

func (sh *shard) specID(code, label string) uint16 {
	if i, ok := sh.specIndex[code]; ok {
		if sh.specs[i].label != label && label != "" {
			sh.specs[i].label, sh.specs[i].folded = label, wordsPadded(label)
		}
		return i
	}
	if label == "" {
		label = code
	}
	i := uint16(len(sh.specs))
	sh.specs = append(sh.specs, specialty{code: code, label: label, folded: wordsPadded(label)})
	sh.specIndex[code] = i
	return i
}

func (e *Embedded) langID(l string) uint16 {
	if i, ok := e.langIndex[l]; ok {
		return i
	}
	i := uint16(len(e.langs))
	e.langs = append(e.langs, l)
	e.langIndex[l] = i
	return i
}

func (sh *shard) intern(s string) string {
	if v, ok := sh.cities[s]; ok {
		return v
	}
	sh.cities[s] = s
	return s
}

func (sh *shard) addToCell(key uint64, en entry) {
	list, ok := sh.grid[key]
	if !ok {
		spec := uint16(key >> 32)
		sh.specCells[spec] = append(sh.specCells[spec], key)
	}
	sh.grid[key] = append(list, en)
}

func findEntry(list []entry, i int32) int {
	for j := range list {
		if list[j].i == i {
			return j
		}
	}
	return -1
}

func (sh *shard) removeFromCell(key uint64, i int32) {
	list := sh.grid[key]
	if j := findEntry(list, i); j >= 0 {
		list[j] = list[len(list)-1]
		sh.grid[key] = list[:len(list)-1]
	}
}

// eachEntry calls fn on every grid entry of p's documents (caller holds the write lock).
func (sh *shard) eachEntry(p *prac, fn func(*entry)) {
	for _, i := range p.docs {
		d := &sh.docs[i]
		la, lo := cellOf(d.lat, d.lon)
		for s := -1; s < len(p.specs); s++ {
			var spec uint16
			if s >= 0 {
				spec = p.specs[s]
			}
			list := sh.grid[cellKey(spec, la, lo)]
			if j := findEntry(list, i); j >= 0 {
				fn(&list[j])
			}
		}
	}
}

// removeDocs drops every document of p (caller holds the write lock).
func (e *Embedded) removeDocs(p *prac) {
	sh := p.sh
	if sh == nil {
		return
	}
	for _, i := range p.docs {
		d := &sh.docs[i]
		la, lo := cellOf(d.lat, d.lon)
		sh.removeFromCell(cellKey(0, la, lo), i)
		for _, s := range p.specs {
			sh.removeFromCell(cellKey(s, la, lo), i)
		}
		delete(e.locs, d.id)
		*d = doc{}
		sh.free = append(sh.free, i)
		sh.live--
	}
	p.docs = p.docs[:0]
	p.sh = nil
}

func modesOf(modes []string) uint8 {
	var m uint8
	for _, s := range modes {
		switch s {
		case ModeInPerson:
			m |= modeInPerson
		case ModeVideo:
			m |= modeVideo
		}
	}
	return m
}

// Upsert replaces the practitioner's documents unless p is stale.
func (e *Embedded) Upsert(_ context.Context, p Practice) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr := e.pracs[p.ID]
	if pr != nil && pr.version >= p.Version {
		return false, nil
	}
	if pr == nil {
		pr = &prac{id: p.ID, next: noSlot}
		e.pracs[p.ID] = pr
	}
	e.removeDocs(pr)
	pr.version = p.Version
	if len(p.Docs) == 0 {
		return true, nil
	}
	sh := e.shard(p.Country)
	first := p.Docs[0]
	pr.name, pr.folded = first.DisplayName, wordsPadded(first.DisplayName)
	pr.specs = pr.specs[:0]
	for i, code := range first.Specialties {
		label := ""
		if i < len(first.SpecialtyLabels) {
			label = first.SpecialtyLabels[i]
		}
		if id := sh.specID(code, label); !slices.Contains(pr.specs, id) {
			pr.specs = append(pr.specs, id)
		}
	}
	pr.specs = slices.Clip(pr.specs)
	pr.langs = pr.langs[:0]
	for _, l := range first.Languages {
		pr.langs = append(pr.langs, e.langID(l))
	}
	pr.langs = slices.Clip(pr.langs)
	pr.accepts = first.AcceptsNewPatients
	pr.hasRating = first.Rating != nil
	if pr.hasRating {
		pr.rating = *first.Rating
	}
	pr.modes = modesOf(first.VisitModes)
	pr.sh = sh
	for _, d := range p.Docs {
		var i int32
		if n := len(sh.free); n > 0 {
			i = sh.free[n-1]
			sh.free = sh.free[:n-1]
		} else {
			sh.docs = append(sh.docs, doc{})
			i = int32(len(sh.docs) - 1)
		}
		sh.docs[i] = doc{p: pr, id: d.ID, name: d.LocationName, city: sh.intern(d.City), lat: d.Lat, lon: d.Lon}
		sh.live++
		la, lo := cellOf(d.Lat, d.Lon)
		en := e.entryOf(pr, i, d.Lat, d.Lon)
		sh.addToCell(cellKey(0, la, lo), en)
		for _, s := range pr.specs {
			sh.addToCell(cellKey(s, la, lo), en)
		}
		pr.docs = append(pr.docs, i)
		e.locs[d.ID] = docRef{sh: sh, i: i}
	}
	pr.docs = slices.Clip(pr.docs)
	return true, nil
}

// DeletePractitioner removes the practitioner's documents as of version.
func (e *Embedded) DeletePractitioner(_ context.Context, _ string, id string, version int64) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr := e.pracs[id]
	if pr != nil && pr.version >= version {
		return false, nil
	}
	if pr == nil {
		pr = &prac{id: id, next: noSlot}
		e.pracs[id] = pr
	}
	e.removeDocs(pr)
	pr.version = version
	return true, nil
}

// SetNextAvailable records the practitioner's next open slot as of asOf.
func (e *Embedded) SetNextAvailable(_ context.Context, _ string, id string, next *time.Time, asOf time.Time) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr := e.pracs[id]
	if pr == nil {
		pr = &prac{id: id, next: noSlot}
		e.pracs[id] = pr
	}
	if asOf.UnixNano() < pr.nextAsOf {
		return false, nil
	}
	pr.nextAsOf = asOf.UnixNano()
	pr.next = noSlot
	if next != nil {
		pr.next = next.Unix()
	}
	if pr.sh != nil {
		pr.sh.eachEntry(pr, func(en *entry) { en.next = pr.next })
	}
	return true, nil
}

// Count is the number of documents of a country.
func (e *Embedded) Count(_ context.Context, country string) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if sh := e.shards[country]; sh != nil {
		return sh.live, nil
	}
	return 0, nil
}

// Reset empties the country and forgets its practitioners.
func (e *Embedded) Reset(_ context.Context, country string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sh := e.shards[country]
	if sh == nil {
		return nil
	}
	for _, d := range sh.docs {
		if d.p != nil {
			delete(e.pracs, d.p.id)
			delete(e.locs, d.id)
		}
	}
	delete(e.shards, country)
	e.shard(country)
	return nil
}

// Locations returns the documents with the given location ids.
func (e *Embedded) Locations(_ context.Context, ids []string) ([]Document, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Document, 0, len(ids))
	for _, id := range ids {
		if ref, ok := e.locs[id]; ok {
			out = append(out, e.document(ref.sh, ref.i))
		}
	}
	return out, nil
}

// Practitioners returns one document per practitioner id.
func (e *Embedded) Practitioners(_ context.Context, ids []string) ([]Document, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Document, 0, len(ids))
	for _, id := range ids {
		if p := e.pracs[id]; p != nil && p.sh != nil && len(p.docs) > 0 {
			out = append(out, e.document(p.sh, p.docs[0]))
		}
	}
	return out, nil
}

// document rebuilds a Document (caller holds a lock).
func (e *Embedded) document(sh *shard, i int32) Document {
	d := &sh.docs[i]
	p := d.p
	out := Document{
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
		out.VisitModes = append(out.VisitModes, ModeInPerson)
	}
	if p.modes&modeVideo != 0 {
		out.VisitModes = append(out.VisitModes, ModeVideo)
	}
	if p.next != noSlot {
		t := time.Unix(p.next, 0).UTC()
		out.NextAvailableSlot = &t
	}
	return out
}

// candidate is a match being ranked: k then id ascending.
type candidate struct {
	k    float64
	id   string
	i    int32
	dist float64
}

func less(a, b *candidate) bool {
	if a.k != b.k {
		return a.k < b.k
	}
	return a.id < b.id
}

// Search runs q over the country's shard.
func (e *Embedded) Search(_ context.Context, q Query) (Result, error) {
	var after *candidate
	if q.After != nil {
		c, err := decodeAfter(q.After)
		if err != nil {
			return Result{}, err
		}
		after = &c
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	sh := e.shards[q.Country]
	if sh == nil {
		return Result{}, nil
	}
	m := e.newMatcher(sh, q)
	if m == nil { // e.g. an unknown specialty or language: nothing matches
		return Result{}, nil
	}
	top := topK{limit: q.Limit + 1}
	total := 0
	visit := func(en *entry) {
		c, ok := m.match(en)
		if !ok {
			return
		}
		total++
		// The id (a read of the document) only when the key alone cannot decide.
		if after != nil {
			if c.k < after.k {
				return
			}
			if c.k == after.k {
				if c.id = sh.docs[c.i].id; c.id <= after.id {
					return
				}
			}
		}
		if len(top.h) == top.limit && c.k > top.h[0].k {
			return
		}
		if c.id == "" {
			c.id = sh.docs[c.i].id
		}
		top.push(c)
	}
	spec := m.spec
	if q.Near != nil {
		eachCell(q.Near, func(la, lo int) {
			list := sh.grid[cellKey(spec, la, lo)]
			for j := range list {
				visit(&list[j])
			}
		})
	} else {
		for _, key := range sh.specCells[spec] {
			list := sh.grid[key]
			for j := range list {
				visit(&list[j])
			}
		}
	}
	hits := top.sorted()
	res := Result{Total: total}
	if len(hits) > q.Limit {
		hits, res.HasNext = hits[:q.Limit], true
	}
	res.Hits = make([]Hit, len(hits))
	for j, c := range hits {
		h := Hit{Doc: e.document(sh, c.i), SortKey: []any{c.k, c.id}}
		if q.Near != nil {
			dist := c.dist
			h.DistanceKm = &dist
		}
		res.Hits[j] = h
	}
	return res, nil
}

// decodeAfter reads a SortKey back (as it comes out of JSON: a number and a string).
func decodeAfter(v []any) (candidate, error) {
	if len(v) != 2 {
		return candidate{}, fmt.Errorf("%w: %d sort values, want 2", ErrBadCursor, len(v))
	}
	var c candidate
	switch k := v[0].(type) {
	case float64:
		c.k = k
	case json.Number:
		f, err := k.Float64()
		if err != nil {
			return candidate{}, fmt.Errorf("%w: sort value %q", ErrBadCursor, k)
		}
		c.k = f
	default:
		return candidate{}, fmt.Errorf("%w: sort value %T", ErrBadCursor, v[0])
	}
	id, ok := v[1].(string)
	if !ok || math.IsNaN(c.k) {
		return candidate{}, fmt.Errorf("%w: bad id", ErrBadCursor)
	}
	c.id = id
	return c, nil
}

// eachCell calls fn for the cells of the circle's bounding box.
func eachCell(n *Near, fn func(la, lo int)) {
	dLat := n.RadiusKm / 111.19
	cos := math.Cos(n.Lat * math.Pi / 180)
	dLon := 360.0
	if cos > 0.01 {
		dLon = min(n.RadiusKm/(111.19*cos), 360)
	}
	la0, _ := cellOf(n.Lat-dLat, 0)
	la1, _ := cellOf(n.Lat+dLat, 0)
	lo0 := int(math.Floor((n.Lon - dLon + 180) / cellDeg))
	lo1 := int(math.Floor((n.Lon + dLon + 180) / cellDeg))
	if lo1-lo0+1 >= lonCells {
		lo0, lo1 = 0, lonCells-1
	}
	for la := la0; la <= la1; la++ {
		for lo := lo0; lo <= lo1; lo++ {
			fn(la, ((lo%lonCells)+lonCells)%lonCells)
		}
	}
}

type matcher struct {
	sh          *shard
	q           *Query
	spec        uint16
	lang        uint16
	hasLang     bool
	mode        uint8
	before      int64
	tokens      []string // " "+folded token
	tokenBits   []uint32 // wordBit of each token
	tokenSpecs  []uint64 // per token, the specialties (< 64) whose label it matches
	specMatches [][]bool // per token, per specialty: does the label match
	latR, lonR  float64  // degrees of the radius, with a margin
}

func (e *Embedded) newMatcher(sh *shard, q Query) *matcher {
	m := &matcher{sh: sh, q: &q, before: math.MaxInt64}
	if q.Specialty != "" {
		id, ok := sh.specIndex[q.Specialty]
		if !ok {
			return nil
		}
		m.spec = id
	}
	if q.Language != "" {
		id, ok := e.langIndex[q.Language]
		if !ok {
			return nil
		}
		m.lang, m.hasLang = id, true
	}
	m.mode = modesOf([]string{q.VisitMode})
	if q.AvailableBefore != nil {
		m.before = q.AvailableBefore.Unix()
	}
	for _, t := range Tokens(q.Text) {
		m.tokens = append(m.tokens, " "+t)
		m.tokenBits = append(m.tokenBits, wordBit(t))
		row := make([]bool, len(sh.specs))
		var bits uint64
		for s := 1; s < len(sh.specs); s++ {
			row[s] = strings.Contains(sh.specs[s].folded, " "+t)
			if row[s] && s < 64 {
				bits |= 1 << s
			}
		}
		m.specMatches = append(m.specMatches, row)
		m.tokenSpecs = append(m.tokenSpecs, bits)
	}
	if n := q.Near; n != nil {
		m.latR = n.RadiusKm/111.19*1.01 + 1e-6
		m.lonR = 360
		if cos := math.Cos((math.Abs(n.Lat) + m.latR) * math.Pi / 180); cos > 0.01 {
			m.lonR = m.latR / cos
		}
	}
	return m
}

// match applies the filters to a grid entry and computes its sort key.
func (m *matcher) match(en *entry) (candidate, bool) {
	q := m.q
	if m.hasLang {
		if m.lang < 64 {
			if en.langs&(1<<m.lang) == 0 {
				return candidate{}, false
			}
		} else if en.flags&flagManyLangs == 0 || !slices.Contains(m.sh.docs[en.i].p.langs, m.lang) {
			return candidate{}, false
		}
	}
	if m.mode != 0 && en.flags&m.mode == 0 {
		return candidate{}, false
	}
	if q.AcceptsNewPatients != nil && (en.flags&flagAccepts != 0) != *q.AcceptsNewPatients {
		return candidate{}, false
	}
	if en.next > m.before {
		return candidate{}, false
	}
	c := candidate{i: en.i}
	if n := q.Near; n != nil {
		if math.Abs(en.lat-n.Lat) > m.latR {
			return candidate{}, false
		}
		if dl := math.Abs(en.lon - n.Lon); dl > m.lonR && 360-dl > m.lonR {
			return candidate{}, false
		}
		c.dist = DistanceKm(n.Lat, n.Lon, en.lat, en.lon)
		if c.dist > n.RadiusKm {
			return candidate{}, false
		}
	}
	if len(m.tokens) > 0 {
		var p *prac
		for t, tok := range m.tokens {
			if en.specs&m.tokenSpecs[t] != 0 {
				continue // a specialty label matches
			}
			if en.flags&flagManySpecs == 0 && m.tokenBits[t] != 0 && en.names&m.tokenBits[t] == 0 {
				return candidate{}, false // no label, and no word of the name can match
			}
			if p == nil {
				p = m.sh.docs[en.i].p
			}
			if strings.Contains(p.folded, tok) {
				continue
			}
			found := false
			for _, s := range p.specs {
				if m.specMatches[t][s] {
					found = true
					break
				}
			}
			if !found {
				return candidate{}, false
			}
		}
	}
	switch q.Sort {
	case SortDistance:
		c.k = c.dist
	case SortSoonest:
		if en.next == noSlot {
			c.k = math.MaxFloat64
		} else {
			c.k = float64(en.next)
		}
	default:
		c.k = -m.relevance(en, c.dist)
	}
	return c, true
}

// relevance is Relevance on an entry (without allocating).
func (m *matcher) relevance(en *entry, dist float64) float64 {
	var d, s, r float64
	if m.q.Near != nil {
		d = 1 / (1 + dist/relevanceDistanceKm)
	}
	if en.next != noSlot {
		h := float64(en.next*1000-m.q.Now.UnixMilli()) / 3.6e6
		s = 1 / (1 + math.Max(h, 0)/relevanceSlotHours)
	}
	if en.flags&flagRating != 0 {
		r = float64(en.rating) / 5
	}
	return RelevanceWeightDistance*d + RelevanceWeightSlot*s + RelevanceWeightRating*r
}

// topK keeps the limit smallest candidates in a max-heap.
type topK struct {
	limit int
	h     []candidate
}

func (t *topK) push(c candidate) {
	if len(t.h) < t.limit {
		t.h = append(t.h, c)
		// sift up
		j := len(t.h) - 1
		for j > 0 {
			parent := (j - 1) / 2
			if !less(&t.h[parent], &t.h[j]) {
				break
			}
			t.h[parent], t.h[j] = t.h[j], t.h[parent]
			j = parent
		}
		return
	}
	if !less(&c, &t.h[0]) {
		return
	}
	t.h[0] = c
	j := 0
	for {
		l, r, big := 2*j+1, 2*j+2, j
		if l < len(t.h) && less(&t.h[big], &t.h[l]) {
			big = l
		}
		if r < len(t.h) && less(&t.h[big], &t.h[r]) {
			big = r
		}
		if big == j {
			break
		}
		t.h[j], t.h[big] = t.h[big], t.h[j]
		j = big
	}
}

func (t *topK) sorted() []candidate {
	slices.SortFunc(t.h, func(a, b candidate) int {
		if less(&a, &b) {
			return -1
		}
		if less(&b, &a) {
			return 1
		}
		return 0
	})
	return t.h
}
