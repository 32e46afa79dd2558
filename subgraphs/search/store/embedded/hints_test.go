package embedded_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/embedded"
)

// TestNextSlotFollowsChurnInOneCell: practices with one to five specialties
// (more than the positions a document keeps hints for) come, change and go
// in one grid cell, whose entries move as others are removed, while their
// next slots change; every entry of every live practice must show the next
// slot last set, whichever cell a search reads it from.
func TestNextSlotFollowsChurnInOneCell(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	idx := embedded.New()
	r := rand.New(rand.NewPCG(13, 21))
	codes := []string{"a", "b", "c", "d", "e"}
	base := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	type state struct {
		version int64
		alive   bool
		specs   []string
		next    time.Time
	}
	pracs := make([]state, 150)
	id := func(n int) string { return fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", n) }
	asOf := base
	for step := range 6000 {
		n := r.IntN(len(pracs))
		p := &pracs[n]
		switch op := r.IntN(10); {
		case op < 3: // a new snapshot: other specialties, one or two places
			p.version++
			p.alive = true
			p.specs = codes[:1+r.IntN(len(codes))]
			pr := store.Practice{ID: id(n), Country: "fr", Version: p.version}
			for l := range 1 + r.IntN(2) {
				pr.Docs = append(pr.Docs, store.Document{ID: fmt.Sprintf("%s-%d", id(n), l), PractitionerID: id(n), Version: p.version,
					Country: "fr", DisplayName: "Dr Test", Specialties: p.specs, Languages: []string{"fr"}, AcceptsNewPatients: true,
					VisitModes: []string{store.ModeInPerson}, City: "Paris", Lat: 48.85 + r.Float64()/100, Lon: 2.35 + r.Float64()/100})
			}
			if ok, err := idx.Upsert(ctx, pr); err != nil || !ok {
				t.Fatalf("step %d: upsert %v %v", step, ok, err)
			}
		case op < 4:
			p.version++
			p.alive = false
			if ok, err := idx.DeletePractitioner(ctx, "fr", id(n), p.version); err != nil || !ok {
				t.Fatalf("step %d: delete %v %v", step, ok, err)
			}
		default:
			asOf = asOf.Add(time.Second)
			p.next = base.Add(time.Duration(1+r.IntN(10000)) * time.Minute)
			if ok, err := idx.SetNextAvailable(ctx, "fr", id(n), &p.next, asOf); err != nil || !ok {
				t.Fatalf("step %d: set next %v %v", step, ok, err)
			}
		}
	}
	near := &store.Near{Lat: 48.855, Lon: 2.355, RadiusKm: 5}
	for _, spec := range append([]string{""}, codes...) {
		res, err := idx.Search(ctx, store.Query{Country: "fr", Specialty: spec, Near: near, Sort: store.SortDistance, Now: base, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, h := range res.Hits {
			var n int
			fmt.Sscanf(h.Doc.PractitionerID[len(h.Doc.PractitionerID)-12:], "%d", &n)
			p := pracs[n]
			if !p.alive {
				t.Fatalf("specialty %q: deleted practice %s found", spec, h.Doc.PractitionerID)
			}
			var want *time.Time
			if !p.next.IsZero() {
				want = &p.next
			}
			if (want == nil) != (h.Doc.NextAvailableSlot == nil) || want != nil && !want.Equal(*h.Doc.NextAvailableSlot) {
				t.Errorf("specialty %q: %s shows next slot %v, want %v", spec, h.Doc.ID, h.Doc.NextAvailableSlot, want)
			}
			seen++
		}
		if seen == 0 {
			t.Fatalf("specialty %q: no hits", spec)
		}
	}
}
