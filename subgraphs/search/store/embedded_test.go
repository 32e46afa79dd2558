package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/search/business"

	"github.com/careslot/careslot/subgraphs/search/indextest"
	"github.com/careslot/careslot/subgraphs/search/store"
)

func TestEmbeddedSuite(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(*testing.T) store.Index { return store.NewEmbedded() })
}

// TestEmbeddedConcurrent searches while snapshots and slots change (run with -race).
func TestEmbeddedConcurrent(t *testing.T) {
	t.Parallel()
	idx := store.NewEmbedded()
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
