package business_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/search/business"
	"github.com/careslot/careslot/subgraphs/search/indextest"
	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/embedded"
)

func TestCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	idx := embedded.New()
	cache := store.NewRedisCache(rdb, prefix, time.Second)
	svc := business.New(idx, cache, countries.MustDefault(), func() time.Time { return indextest.Now },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	fx := indextest.NewFixture()
	fx.Load(t, svc)
	text := "martin"
	in := business.Input{Country: "fr", Text: &text}
	count := func() int {
		t.Helper()
		p, err := svc.Search(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p.TotalCount
	}
	if n := count(); n != 1 {
		t.Fatalf("first search: %d", n)
	}
	keys, _ := rdb.Keys(ctx, prefix+"search:page:fr:*").Result()
	if len(keys) != 1 {
		t.Fatalf("cached pages = %v", keys)
	}

	// A change behind the service's back is not seen: the page comes from the cache.
	var p2 eventdata.Practitioner
	for _, p := range fx.Practitioners {
		if p.ID == "p2" {
			p2 = p
		}
	}
	if _, err := idx.DeletePractitioner(ctx, "fr", "p2", 5); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("cache hit expected, got %d", n)
	}
	// …until the TTL ends.
	time.Sleep(1100 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("after the TTL: %d", n)
	}

	// A snapshot applied through the service bumps the generation: seen at once.
	p2.Version = 6
	if ok, err := svc.ApplySnapshot(ctx, p2); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after the snapshot: %d", n)
	}
	if gen, _ := cache.Generation(ctx, "fr"); gen < 2 {
		t.Errorf("generation = %d", gen)
	}
	// Moving to Germany invalidates both countries.
	before, _ := cache.Generation(ctx, "de")
	p2.Version, p2.Country = 7, "de"
	if ok, err := svc.ApplySnapshot(ctx, p2); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after moving away: %d", n)
	}
	if after, _ := cache.Generation(ctx, "de"); after != before+1 {
		t.Errorf("de generation %d → %d", before, after)
	}
}
