package embedded_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/search/business"

	"github.com/careslot/careslot/subgraphs/search/indextest"
	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/embedded"
	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

func TestEmbeddedSuite(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(*testing.T) store.Index { return embedded.New() })
}

// TestEmbeddedRanksByRelevanceScore: a RELEVANCE hit's sort key is the
// negated relevance.Score of the hit (up to the float32 the engine keeps a
// rating in), with and without a point.
func TestEmbeddedRanksByRelevanceScore(t *testing.T) {
	t.Parallel()
	idx := embedded.New()
	indextest.NewFixture().Load(t, indextest.NewService(idx))
	paris := &store.Near{Lat: indextest.Paris.Lat, Lon: indextest.Paris.Lon, RadiusKm: indextest.Paris.RadiusKm}
	for _, near := range []*store.Near{paris, nil} {
		res, err := idx.Search(context.Background(), store.Query{Country: "fr", Near: near, Sort: store.SortRelevance, Now: indextest.Now, Limit: 100})
		if err != nil || len(res.Hits) < 40 {
			t.Fatalf("search (near %v): %d hits, %v", near != nil, len(res.Hits), err)
		}
		for _, h := range res.Hits {
			want := -relevance.Score(relevance.InputsOf(h.DistanceKm, h.Doc.NextAvailableSlot, h.Doc.Rating, indextest.Now))
			if got, ok := h.SortKey[0].(float64); !ok || math.Abs(got-want) > 1e-6 {
				t.Errorf("near %v: %s has sort key %v, want %.9f", near != nil, h.Doc.ID, h.SortKey[0], want)
			}
		}
	}
}

// TestEmbeddedConcurrent searches while snapshots and slots change (run with -race).
func TestEmbeddedConcurrent(t *testing.T) {
	t.Parallel()
	idx := embedded.New()
	svc := indextest.NewService(idx)
	fx := indextest.NewFixture()
	fx.Load(t, svc)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if w%2 == 0 {
					p := fx.Practitioners[i%len(fx.Practitioners)]
					p.Version = int64(10 + i)
					if _, err := svc.ApplySnapshot(ctx, p); err != nil {
						t.Error(err)
					}
					next := indextest.Now.Add(time.Duration(i) * time.Hour)
					if _, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: p.ID, Country: p.Country, NextAvailableSlot: &next}, indextest.Now.Add(time.Duration(i)*time.Second)); err != nil {
						t.Error(err)
					}
					continue
				}
				sort := []string{"RELEVANCE", "SOONEST"}[i%2]
				if _, err := svc.Search(ctx, business.Input{Country: "fr", Sort: &sort, Near: &indextest.Paris}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n, _ := idx.Count(ctx, "fr"); n != 45 {
		t.Errorf("count = %d", n)
	}
}
