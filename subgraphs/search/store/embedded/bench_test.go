package embedded_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/embedded"
)

var benchSpecialties = []struct{ code, label string }{
	{"general-practice", "Médecin généraliste"}, {"dentistry", "Chirurgien-dentiste"}, {"pediatrics", "Pédiatre"},
	{"dermatology", "Dermatologue"}, {"gynecology", "Gynécologue"}, {"ophthalmology", "Ophtalmologue"},
	{"physiotherapy", "Masseur-kinésithérapeute"}, {"psychiatry", "Psychiatre"}, {"cardiology", "Cardiologue"}, {"ent", "ORL"},
}

var benchNames = []string{"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
	"Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard"}

type benchCity struct {
	name     string
	lat, lon float64
}

// benchCities: 50 cities over metropolitan France (lat 43–51, lon -4–7.5).
func benchCities(r *rand.Rand) []benchCity {
	out := make([]benchCity, 50)
	for i := range out {
		out[i] = benchCity{fmt.Sprintf("Ville %02d", i), 43 + r.Float64()*8, -4 + r.Float64()*11.5}
	}
	return out
}

type benchIndex struct {
	idx      *embedded.Index
	cities   []benchCity
	build    time.Duration
	heap     uint64
	docs     int
	pracs    int
	baseHeap uint64
}

var (
	benchOnce  sync.Once
	benchBuilt *benchIndex
)

// buildBenchIndex indexes 500,000 practitioners (~1.2 locations each)
// clustered around 50 cities, once per test binary.
func buildBenchIndex() *benchIndex {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		cities := benchCities(r)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		ctx := context.Background()
		idx := embedded.New()
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		start := time.Now()
		docs := 0
		const n = 500_000
		for i := range n {
			id := fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i)
			spec := benchSpecialties[min(r.IntN(14), 9)] // general practice is the most common
			name := fmt.Sprintf("Dr %s %s", []string{"Anne", "Luc", "Zoé", "Émile", "Inès", "Paul"}[r.IntN(6)], benchNames[r.IntN(len(benchNames))])
			langs := []string{"fr"}
			if r.IntN(3) == 0 {
				langs = append(langs, "en")
			}
			modes := []string{store.ModeInPerson}
			if r.IntN(4) == 0 {
				modes = append(modes, store.ModeVideo)
			}
			var rating *float64
			if r.IntN(5) != 0 {
				v := 3 + float64(r.IntN(21))/10
				rating = &v
			}
			nLoc := 1
			if r.IntN(5) == 0 {
				nLoc = 2
			}
			p := store.Practice{ID: id, Country: "fr", Version: 1}
			for l := range nLoc {
				c := cities[int(r.ExpFloat64()*10)%len(cities)] // some cities much bigger
				p.Docs = append(p.Docs, store.Document{
					ID: fmt.Sprintf("%s-%d", id[:30], l) + id[30:], PractitionerID: id, Version: 1, Country: "fr",
					DisplayName: name, Specialties: []string{spec.code}, SpecialtyLabels: []string{spec.label},
					Languages: langs, AcceptsNewPatients: r.IntN(3) != 0, Rating: rating, VisitModes: modes,
					LocationName: "Cabinet médical", City: c.name,
					Lat: c.lat + r.NormFloat64()*0.08, Lon: c.lon + r.NormFloat64()*0.1,
				})
			}
			docs += nLoc
			if _, err := idx.Upsert(ctx, p); err != nil {
				panic(err)
			}
			if r.IntN(10) != 0 {
				next := now.Add(time.Duration(r.IntN(30*24*12)) * 5 * time.Minute)
				if _, err := idx.SetNextAvailable(ctx, "fr", id, &next, now); err != nil {
					panic(err)
				}
			}
		}
		build := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		benchBuilt = &benchIndex{idx: idx, cities: cities, build: build, heap: ms.HeapInuse - base, docs: docs, pracs: n}
	})
	return benchBuilt
}

// BenchmarkEmbeddedSearch: a typical patient search (specialty near a city
// within 10 km, sometimes with more filters or another sort) over 500,000
// practitioners. Reports p50/p99 from per-op timings, the build time and the
// heap the index holds.
func BenchmarkEmbeddedSearch(b *testing.B) {
	bi := buildBenchIndex()
	b.Logf("index: %d practitioners, %d documents, built in %v, heap in use %.0f MiB",
		bi.pracs, bi.docs, bi.build.Round(time.Millisecond), float64(bi.heap)/(1<<20))
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    func(r *rand.Rand, c benchCity) store.Query
	}{
		{"specialty-near-10km", func(r *rand.Rand, c benchCity) store.Query {
			return store.Query{Specialty: benchSpecialties[r.IntN(10)].code, Near: &store.Near{Lat: c.lat, Lon: c.lon, RadiusKm: 10}}
		}},
		{"gp-near-25km-filters-soonest", func(r *rand.Rand, c benchCity) store.Query {
			before := now.Add(7 * 24 * time.Hour)
			return store.Query{Specialty: "general-practice", Near: &store.Near{Lat: c.lat, Lon: c.lon, RadiusKm: 25},
				AvailableBefore: &before, Language: "en", Sort: store.SortSoonest}
		}},
		{"loadgen-mix", func(r *rand.Rand, c benchCity) store.Query {
			// What `careslot loadgen search` sends (internal/loadgen.SearchOp): a specialty 8 times
			// in 10, 3 to 23 km, relevance twice as often as distance or soonest, a filter 1 time in 2.
			q := store.Query{Near: &store.Near{Lat: c.lat + (r.Float64()-0.5)*0.1, Lon: c.lon + (r.Float64()-0.5)*0.1, RadiusKm: 3 + r.Float64()*20},
				Sort: []store.Sort{store.SortRelevance, store.SortRelevance, store.SortDistance, store.SortSoonest}[r.IntN(4)]}
			if r.IntN(10) < 8 {
				q.Specialty = benchSpecialties[r.IntN(10)].code
			}
			switch r.IntN(6) {
			case 0:
				before := now.Add(7 * 24 * time.Hour)
				q.AvailableBefore = &before
			case 1:
				q.Language = "en"
			case 2:
				yes := true
				q.AcceptsNewPatients = &yes
			}
			return q
		}},
		{"text-near-50km", func(r *rand.Rand, c benchCity) store.Query {
			return store.Query{Text: "derma", Near: &store.Near{Lat: c.lat, Lon: c.lon, RadiusKm: 50}, Sort: store.SortDistance}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			ctx := context.Background()
			times := make([]time.Duration, 0, 1<<16)
			total := 0
			for b.Loop() {
				c := bi.cities[int(r.ExpFloat64()*10)%len(bi.cities)]
				q := tc.q(r, c)
				q.Country, q.Now, q.Limit = "fr", now, 20
				t0 := time.Now()
				res, err := bi.idx.Search(ctx, q)
				times = append(times, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				total += res.Total
			}
			slices.Sort(times)
			pct := func(p float64) time.Duration { return times[min(len(times)-1, int(float64(len(times))*p))] }
			b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(total)/float64(len(times)), "hits/op")
			b.ReportMetric(bi.build.Seconds(), "build-s")
			b.ReportMetric(float64(bi.heap)/(1<<20), "heap-MiB")
		})
	}
}

// BenchmarkSetNextAvailable: one practitioner's next slot changes (a booking,
// or the next slot leaving its notice: at 07:30 most practitioners of a
// zone at once, see availability's BenchmarkBusinessDayMaintenance) in the
// 500,000-practitioner index, under the index's write lock, which searches
// wait for.
func BenchmarkSetNextAvailable(b *testing.B) {
	bi := buildBenchIndex()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 8))
	asOf := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for b.Loop() {
		asOf = asOf.Add(time.Millisecond)
		id := fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", r.IntN(bi.pracs))
		next := asOf.Add(time.Duration(r.IntN(30*24*12)) * 5 * time.Minute)
		if ok, err := bi.idx.SetNextAvailable(ctx, "fr", id, &next, asOf); err != nil || !ok {
			b.Fatalf("SetNextAvailable(%s) = %v, %v", id, ok, err)
		}
	}
}
