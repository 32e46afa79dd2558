package embedded

import (
	"math"
	"slices"

	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

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

// sortKey is the entry's key in the query's order, smallest first: the
// distance, the next slot (none last), or the negated relevance score.
func (m *matcher) sortKey(en *entry, dist float64) float64 {
	switch m.q.Sort {
	case store.SortDistance:
		return dist
	case store.SortSoonest:
		if en.next == noSlot {
			return math.MaxFloat64
		}
		return float64(en.next)
	default:
		return -relevance.Score(relevance.Inputs{
			Near: m.q.Near != nil, DistanceKm: dist,
			HasSlot: en.next != noSlot, SlotUnixMilli: en.next * 1000, NowUnixMilli: m.nowMilli,
			Rated: en.flags&flagRating != 0, Rating: float64(en.rating),
		})
	}
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
