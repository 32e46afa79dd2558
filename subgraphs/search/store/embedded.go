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
// only the cells the radius covers. Practitioner fields live once per
// practitioner, not per location; strings that repeat (cities, languages,
// specialty labels) are interned. One RWMutex guards it all: searches share
// it, writes (a few µs each) take it alone.
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
	grid map[uint64][]int32
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
)

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
			grid:      map[uint64][]int32{},
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

func (sh *shard) addToCell(key uint64, i int32) {
	list, ok := sh.grid[key]
	if !ok {
		spec := uint16(key >> 32)
		sh.specCells[spec] = append(sh.specCells[spec], key)
	}
	sh.grid[key] = append(list, i)
}

func (sh *shard) removeFromCell(key uint64, i int32) {
	list := sh.grid[key]
	if j := slices.Index(list, i); j >= 0 {
		list[j] = list[len(list)-1]
		sh.grid[key] = list[:len(list)-1]
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
		sh.addToCell(cellKey(0, la, lo), i)
		for _, s := range pr.specs {
			sh.addToCell(cellKey(s, la, lo), i)
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
	visit := func(i int32) {
		c, ok := m.match(i)
		if !ok {
			return
		}
		total++
		if after != nil && !less(after, &c) {
			return
		}
		top.push(c)
	}
	spec := m.spec
	switch {
	case q.Near != nil:
		eachCell(q.Near, func(la, lo int) {
			for _, i := range sh.grid[cellKey(spec, la, lo)] {
				visit(i)
			}
		})
	case spec != 0:
		for _, key := range sh.specCells[spec] {
			for _, i := range sh.grid[key] {
				visit(i)
			}
		}
	default:
		for i := range sh.docs {
			if sh.docs[i].p != nil {
				visit(int32(i))
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
	latR        float64
	specMatches [][]bool // per token, per specialty: does the label match
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
		row := make([]bool, len(sh.specs))
		for s := 1; s < len(sh.specs); s++ {
			row[s] = strings.Contains(sh.specs[s].folded, " "+t)
		}
		m.specMatches = append(m.specMatches, row)
	}
	if q.Near != nil {
		m.latR = q.Near.RadiusKm/111.19*1.01 + 1e-9
	}
	return m
}

// match applies the filters to document i and computes its sort key.
func (m *matcher) match(i int32) (candidate, bool) {
	d := &m.sh.docs[i]
	p := d.p
	q := m.q
	if m.hasLang && !slices.Contains(p.langs, m.lang) {
		return candidate{}, false
	}
	if m.mode != 0 && p.modes&m.mode == 0 {
		return candidate{}, false
	}
	if q.AcceptsNewPatients != nil && p.accepts != *q.AcceptsNewPatients {
		return candidate{}, false
	}
	if m.before != math.MaxInt64 && (p.next == noSlot || p.next > m.before) {
		return candidate{}, false
	}
	if m.spec != 0 && q.Near == nil && !slices.Contains(p.specs, m.spec) {
		return candidate{}, false
	}
	for t, tok := range m.tokens {
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
	c := candidate{id: d.id, i: i}
	if q.Near != nil {
		if math.Abs(d.lat-q.Near.Lat) > m.latR {
			return candidate{}, false
		}
		c.dist = DistanceKm(q.Near.Lat, q.Near.Lon, d.lat, d.lon)
		if c.dist > q.Near.RadiusKm {
			return candidate{}, false
		}
	}
	switch q.Sort {
	case SortDistance:
		c.k = c.dist
	case SortSoonest:
		if p.next == noSlot {
			c.k = math.MaxFloat64
		} else {
			c.k = float64(p.next)
		}
	default:
		var dist *float64
		if q.Near != nil {
			dist = &c.dist
		}
		var next *time.Time
		if p.next != noSlot {
			t := time.Unix(p.next, 0)
			next = &t
		}
		var rating *float64
		if p.hasRating {
			rating = &p.rating
		}
		c.k = -Relevance(dist, next, rating, q.Now)
	}
	return c, true
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
