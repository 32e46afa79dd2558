package embedded

import (
	"context"
	"slices"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store"
)

// Upsert replaces the practitioner's documents unless p is stale.
func (e *Index) Upsert(_ context.Context, p store.Practice) (bool, error) {
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
		en := entryOf(pr, i, d.Lat, d.Lon)
		hints := &sh.docs[i].at
		hints[0] = sh.addToCell(cellKey(0, la, lo), en)
		for k, s := range pr.specs {
			if at := sh.addToCell(cellKey(s, la, lo), en); k+1 < entryHints {
				hints[k+1] = at
			}
		}
		pr.docs = append(pr.docs, i)
		e.locs[d.ID] = docRef{sh: sh, i: i}
	}
	pr.docs = slices.Clip(pr.docs)
	return true, nil
}

// DeletePractitioner removes the practitioner's documents as of version.
func (e *Index) DeletePractitioner(_ context.Context, _ string, id string, version int64) (bool, error) {
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
func (e *Index) SetNextAvailable(_ context.Context, _ string, id string, next *time.Time, asOf time.Time) (bool, error) {
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

// Reset empties the country and forgets its practitioners.
func (e *Index) Reset(_ context.Context, country string) error {
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

// removeDocs drops every document of p (caller holds the write lock).
func (e *Index) removeDocs(p *prac) {
	sh := p.sh
	if sh == nil {
		return
	}
	for _, i := range p.docs {
		d := &sh.docs[i]
		la, lo := cellOf(d.lat, d.lon)
		sh.removeFromCell(cellKey(0, la, lo), i, 0)
		for k, s := range p.specs {
			sh.removeFromCell(cellKey(s, la, lo), i, k+1)
		}
		delete(e.locs, d.id)
		*d = doc{}
		sh.free = append(sh.free, i)
		sh.live--
	}
	p.docs = p.docs[:0]
	p.sh = nil
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

func (e *Index) langID(l string) uint16 {
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

func modesOf(modes []string) uint8 {
	var m uint8
	for _, s := range modes {
		switch s {
		case store.ModeInPerson:
			m |= modeInPerson
		case store.ModeVideo:
			m |= modeVideo
		}
	}
	return m
}
