package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/careslot/careslot/subgraphs/search/store"
)

// Search runs q over the country's shard: it plans the query (matcher),
// scans the candidate cells, keeps the top Limit+1 after the cursor and
// rebuilds their documents.
func (e *Index) Search(_ context.Context, q store.Query) (store.Result, error) {
	var after *candidate
	if q.After != nil {
		c, err := decodeAfter(q.After)
		if err != nil {
			return store.Result{}, err
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
		return store.Result{}, nil
	}
	m := e.newMatcher(sh, q)
	if m == nil { // e.g. an unknown specialty or language: nothing matches
		return store.Result{}, nil
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
	res := store.Result{Total: total}
	if len(hits) > q.Limit {
		hits, res.HasNext = hits[:q.Limit], true
	}
	res.Hits = make([]store.Hit, len(hits))
	for j, c := range hits {
		h := store.Hit{Doc: e.document(sh, c.i), SortKey: []any{c.k, c.id}}
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
		return candidate{}, fmt.Errorf("%w: %d sort values, want 2", store.ErrBadCursor, len(v))
	}
	var c candidate
	switch k := v[0].(type) {
	case float64:
		c.k = k
	case json.Number:
		f, err := k.Float64()
		if err != nil {
			return candidate{}, fmt.Errorf("%w: sort value %q", store.ErrBadCursor, k)
		}
		c.k = f
	default:
		return candidate{}, fmt.Errorf("%w: sort value %T", store.ErrBadCursor, v[0])
	}
	id, ok := v[1].(string)
	if !ok || math.IsNaN(c.k) {
		return candidate{}, fmt.Errorf("%w: bad id", store.ErrBadCursor)
	}
	c.id = id
	return c, nil
}

// eachCell calls fn for the cells of the circle's bounding box.
func eachCell(n *store.Near, fn func(la, lo int)) {
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

// matcher is a query planned against one shard: its filters turned into
// ids, bits and precomputed tables that a grid entry is tested against.
type matcher struct {
	sh          *shard
	q           *store.Query
	spec        uint16
	lang        uint16
	hasLang     bool
	mode        uint8
	before      int64
	tokens      []string     // " "+folded token
	tokenBits   []uint32     // wordBit of each token
	tokenSpecs  []uint64     // per token, the specialties (< 64) whose label it matches
	specMatches [][]bool     // per token, per specialty: does the label match
	latR, lonR  float64      // degrees of the radius, with a margin
	origin      store.Origin // q.Near's centre
	nowMilli    int64        // q.Now, for the relevance of a slot
}

// newMatcher plans q; nil when nothing can match.
func (e *Index) newMatcher(sh *shard, q store.Query) *matcher {
	m := &matcher{sh: sh, q: &q, before: math.MaxInt64, nowMilli: q.Now.UnixMilli()}
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
	for _, t := range store.Tokens(q.Text) {
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
		m.origin = store.From(n.Lat, n.Lon)
		m.latR = n.RadiusKm/111.19*1.01 + 1e-6
		m.lonR = 360
		if cos := math.Cos((math.Abs(n.Lat) + m.latR) * math.Pi / 180); cos > 0.01 {
			m.lonR = m.latR / cos
		}
	}
	return m
}

// match applies the filters to a grid entry and, if it passes, gives it its
// sort key (see ranking.go).
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
		c.dist = m.origin.DistanceKm(en.lat, en.lon)
		if c.dist > n.RadiusKm {
			return candidate{}, false
		}
	}
	// Text: every query word begins a word of a specialty label or of the
	// display name. (Inline: a call per scanned entry shows in the benchmark.)
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
	c.k = m.sortKey(en, c.dist)
	return c, true
}
