package embedded

import (
	"math"
	"slices"
	"strings"

	"github.com/careslot/careslot/subgraphs/search/store"
)

// cellDeg is the grid's cell size in degrees: ~22 km of latitude, ~15 km of
// longitude at 48°N. A typical 10–25 km radius reads 4–12 cells.
const cellDeg = 0.2

const (
	latCells = 900  // 180 / cellDeg
	lonCells = 1800 // 360 / cellDeg
	noSlot   = math.MaxInt64
)

func cellOf(lat, lon float64) (int, int) {
	la := int(math.Floor((lat + 90) / cellDeg))
	lo := int(math.Floor((lon + 180) / cellDeg))
	return min(max(la, 0), latCells-1), ((lo % lonCells) + lonCells) % lonCells
}

func cellKey(spec uint16, la, lo int) uint64 {
	return uint64(spec)<<32 | uint64(la)<<16 | uint64(lo)
}

// Bits of entry.flags.
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

func entryOf(p *prac, i int32, lat, lon float64) entry {
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

// wordsPadded is " w1 w2 … " for folded words, so that " "+prefix is a
// substring exactly when prefix begins one of the words.
func wordsPadded(s string) string {
	f := store.Fold(s)
	if f == "" {
		return ""
	}
	return " " + f + " "
}

// addToCell appends en to its cell and returns its position there.
func (sh *shard) addToCell(key uint64, en entry) int32 {
	list, ok := sh.grid[key]
	if !ok {
		spec := uint16(key >> 32)
		sh.specCells[spec] = append(sh.specCells[spec], key)
	}
	sh.grid[key] = append(list, en)
	return int32(len(list))
}

// locate returns the position of document i's entry in list (-1: none),
// trying the document's hint k first and keeping it current.
func (sh *shard) locate(list []entry, i int32, k int) int {
	d := &sh.docs[i]
	if k < entryHints {
		if h := int(d.at[k]); h < len(list) && list[h].i == i {
			return h
		}
	}
	j := findEntry(list, i)
	if j >= 0 && k < entryHints {
		d.at[k] = int32(j)
	}
	return j
}

func findEntry(list []entry, i int32) int {
	for j := range list {
		if list[j].i == i {
			return j
		}
	}
	return -1
}

// removeFromCell removes document i's entry from its cell; k is the
// document's hint for that cell (see doc.at).
func (sh *shard) removeFromCell(key uint64, i int32, k int) {
	list := sh.grid[key]
	if j := sh.locate(list, i, k); j >= 0 {
		moved := list[len(list)-1]
		list[j] = moved
		sh.grid[key] = list[:len(list)-1]
		// The cell's last entry took the removed one's place: keep its hint.
		if m := &sh.docs[moved.i]; m.p != nil {
			if h := hintOf(m.p, key); h >= 0 && h < entryHints {
				m.at[h] = int32(j)
			}
		}
	}
}

// hintOf is which of p's position hints is that of the cell key (-1: none):
// 0 for the all-specialties cell, 1 + its index for a specialty's.
func hintOf(p *prac, key uint64) int {
	spec := uint16(key >> 32)
	if spec == 0 {
		return 0
	}
	if k := slices.Index(p.specs, spec); k >= 0 {
		return k + 1
	}
	return -1
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
			if j := sh.locate(list, i, s+1); j >= 0 {
				fn(&list[j])
			}
		}
	}
}
