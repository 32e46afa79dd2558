// Package indextest is the behavioural suite every search index backend
// passes: Run it with a constructor of fresh, empty indexes. It drives the
// index through the business layer (events in, searches out), so cursors,
// versions and validation are exercised as in production.
package indextest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/search/business"
	"github.com/careslot/careslot/subgraphs/search/store"
	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

// Now is the suite's clock.
var Now = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Paris is the point most searches start from.
var Paris = business.Near{Lat: 48.8566, Lon: 2.3522, RadiusKm: 30}

func ptr[T any](v T) *T { return &v }

func at(d time.Duration) *time.Time { return ptr(Now.Add(d)) }

func loc(id, name, city string, lat, lon float64) eventdata.Location {
	return eventdata.Location{ID: id, Name: name, City: city, Country: "fr", Lat: lat, Lon: lon, TimeZone: "Europe/Paris"}
}

func types(modes ...string) []eventdata.AppointmentType {
	var out []eventdata.AppointmentType
	for i, m := range modes {
		out = append(out, eventdata.AppointmentType{ID: fmt.Sprintf("t%d", i), Name: "Consultation", DurationMinutes: 20, VisitMode: m, OnlineBookable: true})
	}
	return out
}

// Fixture is the suite's data: practitioners and their next slots.
type Fixture struct {
	Practitioners []eventdata.Practitioner
	Next          map[string]*time.Time
}

// NewFixture returns four named practitioners in France (one with two
// locations, one in Lyon), one in Germany, and 40 general practitioners
// spread around Paris.
func NewFixture() Fixture {
	f := Fixture{Next: map[string]*time.Time{}}
	add := func(p eventdata.Practitioner, next *time.Time) {
		p.Version = 1
		f.Practitioners = append(f.Practitioners, p)
		f.Next[p.ID] = next
	}
	add(eventdata.Practitioner{ID: "p1", Country: "fr", DisplayName: "Dr Émilie Durand", Specialties: []string{"general-practice"},
		Languages: []string{"fr", "en"}, AcceptsNewPatients: true, Rating: ptr(4.8), AppointmentTypes: types("IN_PERSON", "VIDEO"),
		Locations: []eventdata.Location{loc("l1", "Cabinet Rivoli", "Paris", 48.8566, 2.3522)}}, at(2*time.Hour))
	add(eventdata.Practitioner{ID: "p2", Country: "fr", DisplayName: "Dr Jean Martin", Specialties: []string{"general-practice"},
		Languages: []string{"fr"}, AcceptsNewPatients: false, Rating: ptr(4.2), AppointmentTypes: types("IN_PERSON"),
		Locations: []eventdata.Location{loc("l2", "Cabinet Opéra", "Paris", 48.8700, 2.3300)}}, at(72*time.Hour))
	add(eventdata.Practitioner{ID: "p3", Country: "fr", DisplayName: "Dr Zoé Lefèvre", Specialties: []string{"dermatology"},
		Languages: []string{"fr", "de"}, AcceptsNewPatients: true, AppointmentTypes: types("VIDEO"),
		Locations: []eventdata.Location{loc("l3", "Centre Bastille", "Paris", 48.8400, 2.3600)}}, nil)
	add(eventdata.Practitioner{ID: "p4", Country: "fr", DisplayName: "Dr Paul Bernard", Specialties: []string{"general-practice", "pediatrics"},
		Languages: []string{"fr"}, AcceptsNewPatients: true, Rating: ptr(3.9), AppointmentTypes: types("IN_PERSON"),
		Locations: []eventdata.Location{
			loc("l4a", "Cabinet du Château", "Versailles", 48.8049, 2.1204),
			loc("l4b", "Cabinet Bellecour", "Lyon", 45.7640, 4.8357),
		}}, at(20*time.Hour))
	add(eventdata.Practitioner{ID: "p5", Country: "de", DisplayName: "Dr Ana Müller", Specialties: []string{"general-practice"},
		Languages: []string{"de"}, AcceptsNewPatients: true, Rating: ptr(4.5), AppointmentTypes: types("IN_PERSON"),
		Locations: []eventdata.Location{{ID: "l5", Name: "Praxis Mitte", City: "Berlin", Country: "de", Lat: 52.52, Lon: 13.405, TimeZone: "Europe/Berlin"}}}, at(time.Hour))
	for i := range 40 {
		lat := 48.8566 + float64(i%7-3)*0.03 + float64(i)*0.0007
		lon := 2.3522 + float64(i%5-2)*0.04 - float64(i)*0.0005
		var next *time.Time
		if i%4 != 0 {
			next = at(time.Duration(i%9+1) * 5 * time.Hour)
		}
		var rating *float64
		if i%3 != 0 {
			rating = ptr(3 + float64(i%10)/5)
		}
		add(eventdata.Practitioner{ID: fmt.Sprintf("g%02d", i), Country: "fr", DisplayName: fmt.Sprintf("Dr Gen %02d", i),
			Specialties: []string{"general-practice"}, Languages: []string{"fr"}, AcceptsNewPatients: i%2 == 0, Rating: rating,
			AppointmentTypes: types("IN_PERSON"),
			Locations:        []eventdata.Location{loc(fmt.Sprintf("lg%02d", i), "Cabinet", "Paris", lat, lon)}}, next)
	}
	return f
}

// Load applies the fixture through the service's event handlers.
func (f Fixture) Load(t *testing.T, svc *business.Service) {
	t.Helper()
	ctx := context.Background()
	for _, p := range f.Practitioners {
		if ok, err := svc.ApplySnapshot(ctx, p); err != nil || !ok {
			t.Fatalf("apply %s: %v, %v", p.ID, ok, err)
		}
		if _, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: p.ID, Country: p.Country, NextAvailableSlot: f.Next[p.ID]}, Now); err != nil {
			t.Fatal(err)
		}
	}
}

// NewService returns a cache-less service over idx with the suite's clock.
func NewService(idx store.Index) *business.Service {
	return business.New(idx, nil, countries.MustDefault(), func() time.Time { return Now },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func search(t *testing.T, svc *business.Service, in business.Input) *business.Page {
	t.Helper()
	if in.Country == "" {
		in.Country = "fr"
	}
	if in.First == nil {
		in.First = ptr(100)
	}
	p, err := svc.Search(context.Background(), in)
	if err != nil {
		t.Fatalf("search %+v: %v", in, err)
	}
	return p
}

func ids(p *business.Page) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Doc.ID
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }

func wantIDs(t *testing.T, what string, p *business.Page, want ...string) {
	t.Helper()
	if got := sorted(ids(p)); !slices.Equal(got, sorted(want)) {
		t.Errorf("%s: ids = %v, want %v", what, got, sorted(want))
	}
	if p.TotalCount != len(want) {
		t.Errorf("%s: totalCount = %d, want %d", what, p.TotalCount, len(want))
	}
}

// Run runs the suite; newIndex returns a fresh, empty index.
func Run(t *testing.T, newIndex func(t *testing.T) store.Index) {
	fx := NewFixture()
	shared := NewService(newIndex(t))
	fx.Load(t, shared)
	frDocs := 45 // 4 named (one with two locations) + 40

	t.Run("Count", func(t *testing.T) {
		for cc, want := range map[string]int{"fr": frDocs, "de": 1, "it": 0} {
			n, err := shared.Index().Count(context.Background(), cc)
			if err != nil || n != want {
				t.Errorf("Count(%s) = %d, %v; want %d", cc, n, err, want)
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		wantIDs(t, "dermatology", search(t, shared, business.Input{Specialty: ptr("dermatology")}), "l3")
		wantIDs(t, "pediatrics", search(t, shared, business.Input{Specialty: ptr("pediatrics")}), "l4a", "l4b")
		wantIDs(t, "language de", search(t, shared, business.Input{Language: ptr("de")}), "l3")
		wantIDs(t, "language EN (case)", search(t, shared, business.Input{Language: ptr("EN")}), "l1")
		wantIDs(t, "video", search(t, shared, business.Input{VisitMode: ptr(store.ModeVideo)}), "l1", "l3")
		var notAccepting []string
		var within1 = []string{"l1", "l4a", "l4b"}
		for i := range 40 {
			if i%2 != 0 {
				notAccepting = append(notAccepting, fmt.Sprintf("lg%02d", i))
			}
			if i%4 != 0 && (i%9+1)*5 <= 24 {
				within1 = append(within1, fmt.Sprintf("lg%02d", i))
			}
		}
		wantIDs(t, "not accepting", search(t, shared, business.Input{AcceptsNewPatients: ptr(false)}), append(notAccepting, "l2")...)
		wantIDs(t, "available within 1 day", search(t, shared, business.Input{AvailableWithinDays: ptr(1)}), within1...)
		wantIDs(t, "available within 0 days", search(t, shared, business.Input{AvailableWithinDays: ptr(0)}))
		wantIDs(t, "dermatology by video near Paris", search(t, shared, business.Input{
			Specialty: ptr("dermatology"), VisitMode: ptr(store.ModeVideo), Near: &Paris}), "l3")
		wantIDs(t, "pediatrics near Lyon", search(t, shared, business.Input{Specialty: ptr("pediatrics"),
			Near: &business.Near{Lat: 45.76, Lon: 4.83, RadiusKm: 10}}), "l4b")
	})

	t.Run("Text", func(t *testing.T) {
		wantIDs(t, "emilie", search(t, shared, business.Input{Text: ptr("emilie")}), "l1")
		wantIDs(t, "ÉMIL (case, accent, prefix)", search(t, shared, business.Input{Text: ptr("ÉMIL")}), "l1")
		wantIDs(t, "lefevre", search(t, shared, business.Input{Text: ptr("lefevre")}), "l3")
		wantIDs(t, "Zoe LEF", search(t, shared, business.Input{Text: ptr("Zoe LEF")}), "l3")
		wantIDs(t, "derma (label prefix)", search(t, shared, business.Input{Text: ptr("derma")}), "l3")
		wantIDs(t, "médecin dur (label and name)", search(t, shared, business.Input{Text: ptr("médecin dur")}), "l1")
		wantIDs(t, "pédiatre bernard", search(t, shared, business.Input{Text: ptr("pédiatre bernard")}), "l4a", "l4b")
		wantIDs(t, "no match", search(t, shared, business.Input{Text: ptr("cardio")}))
		wantIDs(t, "infix is not a prefix", search(t, shared, business.Input{Text: ptr("milie")}))
		if p := search(t, shared, business.Input{Text: ptr("generaliste")}); p.TotalCount != 44 {
			t.Errorf("generaliste: totalCount = %d, want 44", p.TotalCount)
		}
	})

	t.Run("RadiusEdge", func(t *testing.T) {
		d := store.DistanceKm(Paris.Lat, Paris.Lon, 48.8049, 2.1204) // l4a
		in := func(r float64) business.Input {
			return business.Input{Specialty: ptr("pediatrics"), Near: &business.Near{Lat: Paris.Lat, Lon: Paris.Lon, RadiusKm: r}}
		}
		wantIDs(t, "just outside", search(t, shared, in(d-0.05)))
		p := search(t, shared, in(d+0.05))
		wantIDs(t, "just inside", p, "l4a")
		if len(p.Edges) == 1 && (p.Edges[0].DistanceKm == nil || math.Abs(*p.Edges[0].DistanceKm-d) > 0.05) {
			t.Errorf("distanceKm = %v, want %.3f", p.Edges[0].DistanceKm, d)
		}
		wantIDs(t, "no distance without near", search(t, shared, business.Input{Text: ptr("emilie")}), "l1")
		if e := search(t, shared, business.Input{Text: ptr("emilie")}).Edges[0]; e.DistanceKm != nil {
			t.Errorf("distanceKm without near = %v", *e.DistanceKm)
		}
	})

	t.Run("Sorts", func(t *testing.T) {
		p := search(t, shared, business.Input{Near: &Paris, Sort: ptr("DISTANCE")})
		if p.TotalCount != frDocs-1 { // Lyon is out of range
			t.Fatalf("near Paris: totalCount = %d, want %d", p.TotalCount, frDocs-1)
		}
		for i := 1; i < len(p.Edges); i++ {
			a, b := p.Edges[i-1], p.Edges[i]
			if *a.DistanceKm > *b.DistanceKm+1e-6 {
				t.Fatalf("DISTANCE: %s (%.4f) before %s (%.4f)", a.Doc.ID, *a.DistanceKm, b.Doc.ID, *b.DistanceKm)
			}
		}
		if p.Edges[0].Doc.ID != "l1" {
			t.Errorf("DISTANCE: first = %s, want l1", p.Edges[0].Doc.ID)
		}

		p = search(t, shared, business.Input{Sort: ptr("SOONEST")})
		seenNil := false
		for i, e := range p.Edges {
			if e.Doc.NextAvailableSlot == nil {
				seenNil = true
				continue
			}
			if seenNil {
				t.Fatalf("SOONEST: %s has a slot after practitioners without one", e.Doc.ID)
			}
			if i > 0 {
				prev := p.Edges[i-1]
				if prev.Doc.NextAvailableSlot.After(*e.Doc.NextAvailableSlot) ||
					(prev.Doc.NextAvailableSlot.Equal(*e.Doc.NextAvailableSlot) && prev.Doc.ID > e.Doc.ID) {
					t.Fatalf("SOONEST: %s before %s", prev.Doc.ID, e.Doc.ID)
				}
			}
		}
		if !seenNil || p.Edges[0].Doc.ID != "l1" {
			t.Errorf("SOONEST: first %s, saw none without a slot: %v", p.Edges[0].Doc.ID, !seenNil)
		}

		for _, near := range []*business.Near{&Paris, nil} {
			p = search(t, shared, business.Input{Near: near})
			score := func(e business.Edge) float64 {
				return relevance.Score(relevance.InputsOf(e.DistanceKm, e.Doc.NextAvailableSlot, e.Doc.Rating, Now))
			}
			for i := 1; i < len(p.Edges); i++ {
				a, b := p.Edges[i-1], p.Edges[i]
				if score(a) < score(b)-1e-5 {
					t.Fatalf("RELEVANCE (near %v): %s (%.5f) before %s (%.5f)", near != nil, a.Doc.ID, score(a), b.Doc.ID, score(b))
				}
			}
		}
		// Nearer wins, all else equal: l1 (0 km, soonest, best rated) leads.
		if p := search(t, shared, business.Input{Near: &Paris}); p.Edges[0].Doc.ID != "l1" {
			t.Errorf("RELEVANCE: first = %s, want l1", p.Edges[0].Doc.ID)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		for _, in := range []business.Input{
			{Sort: ptr("RELEVANCE")},
			{Sort: ptr("RELEVANCE"), Near: &Paris},
			{Sort: ptr("DISTANCE"), Near: &Paris},
			{Sort: ptr("SOONEST")},
			{Sort: ptr("SOONEST"), Specialty: ptr("general-practice"), Near: &Paris},
		} {
			all := search(t, shared, in)
			var walked []string
			in.First = ptr(7)
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%s: too many pages", *in.Sort)
				}
				p := search(t, shared, in)
				if p.TotalCount != all.TotalCount {
					t.Fatalf("%s: page totalCount = %d, want %d", *in.Sort, p.TotalCount, all.TotalCount)
				}
				walked = append(walked, ids(p)...)
				if !p.HasNextPage {
					break
				}
				if len(p.Edges) != 7 || p.EndCursor == nil || *p.EndCursor != p.Edges[6].Cursor {
					t.Fatalf("%s: page of %d with endCursor %v", *in.Sort, len(p.Edges), p.EndCursor)
				}
				in.After = p.EndCursor
			}
			if !slices.Equal(walked, ids(all)) {
				t.Errorf("%s (near %v): walk %v\nwant      %v", *in.Sort, in.Near != nil, walked, ids(all))
			}
		}
	})

	t.Run("CountryIsolation", func(t *testing.T) {
		wantIDs(t, "de", search(t, shared, business.Input{Country: "de"}), "l5")
		wantIDs(t, "it", search(t, shared, business.Input{Country: "it"}))
		wantIDs(t, "de from Paris", search(t, shared, business.Input{Country: "de", Near: &business.Near{Lat: Paris.Lat, Lon: Paris.Lon, RadiusKm: 500}}))
		if p := search(t, shared, business.Input{Text: ptr("muller")}); p.TotalCount != 0 {
			t.Errorf("fr finds the German practitioner: %v", ids(p))
		}
	})

	t.Run("Entities", func(t *testing.T) {
		ctx := context.Background()
		docs, err := shared.Locations(ctx, []string{"l4b", "nope", "l3"})
		if err != nil || len(docs) != 2 {
			t.Fatalf("Locations = %+v, %v", docs, err)
		}
		for _, d := range docs {
			if d.ID == "l4b" && (d.City != "Lyon" || d.LocationName != "Cabinet Bellecour" || d.PractitionerID != "p4") {
				t.Errorf("l4b = %+v", d)
			}
		}
		docs, err = shared.Practitioners(ctx, []string{"p4", "p5", "nope"})
		if err != nil || len(docs) != 2 {
			t.Fatalf("Practitioners = %+v, %v", docs, err)
		}
		for _, d := range docs {
			if d.PractitionerID == "p4" && (d.DisplayName != "Dr Paul Bernard" || !slices.Equal(d.Specialties, []string{"general-practice", "pediatrics"}) ||
				d.SpecialtyLabels[1] != "Pédiatre" || d.Rating == nil || *d.Rating != 3.9) {
				t.Errorf("p4 = %+v", d)
			}
		}
	})

	t.Run("Updates", func(t *testing.T) {
		ctx := context.Background()
		svc := NewService(newIndex(t))
		fx.Load(t, svc)
		byID := map[string]eventdata.Practitioner{}
		for _, p := range fx.Practitioners {
			byID[p.ID] = p
		}

		// A new version renames p1 and drops video.
		p1 := byID["p1"]
		p1.Version, p1.DisplayName, p1.AppointmentTypes = 2, "Dr Émilie Durand-Roux", types("IN_PERSON")
		if ok, err := svc.ApplySnapshot(ctx, p1); err != nil || !ok {
			t.Fatalf("apply p1 v2: %v %v", ok, err)
		}
		wantIDs(t, "renamed", search(t, svc, business.Input{Text: ptr("roux")}), "l1")
		wantIDs(t, "video after p1 dropped it", search(t, svc, business.Input{VisitMode: ptr(store.ModeVideo)}), "l3")
		if p := search(t, svc, business.Input{Text: ptr("roux")}); *p.Edges[0].Doc.NextAvailableSlot != *fx.Next["p1"] {
			t.Errorf("next slot lost in the replacement: %v", p.Edges[0].Doc.NextAvailableSlot)
		}
		// The same version again, and an older one, change nothing.
		stale := byID["p1"]
		if ok, err := svc.ApplySnapshot(ctx, stale); err != nil || ok {
			t.Fatalf("stale v1 applied: %v %v", ok, err)
		}
		p1.DisplayName = "Dr Replayed"
		if ok, err := svc.ApplySnapshot(ctx, p1); err != nil || ok {
			t.Fatalf("replayed v2 applied: %v %v", ok, err)
		}
		wantIDs(t, "after stale events", search(t, svc, business.Input{Text: ptr("roux")}), "l1")

		// p4 loses its Lyon location.
		p4 := byID["p4"]
		p4.Version, p4.Locations = 2, p4.Locations[:1]
		if ok, err := svc.ApplySnapshot(ctx, p4); err != nil || !ok {
			t.Fatalf("apply p4 v2: %v %v", ok, err)
		}
		wantIDs(t, "pediatrics after losing Lyon", search(t, svc, business.Input{Specialty: ptr("pediatrics")}), "l4a")
		if n, _ := svc.Index().Count(ctx, "fr"); n != frDocs-1 {
			t.Errorf("fr count = %d, want %d", n, frDocs-1)
		}
		if docs, _ := svc.Locations(ctx, []string{"l4b"}); len(docs) != 0 {
			t.Errorf("removed location still found: %+v", docs)
		}

		// p2 moves to Germany.
		p2 := byID["p2"]
		p2.Version, p2.Country = 3, "de"
		p2.Locations = []eventdata.Location{{ID: "l2de", Name: "Praxis", City: "München", Country: "de", Lat: 48.137, Lon: 11.575}}
		if ok, err := svc.ApplySnapshot(ctx, p2); err != nil || !ok {
			t.Fatalf("apply p2 v3: %v %v", ok, err)
		}
		wantIDs(t, "martin in fr", search(t, svc, business.Input{Text: ptr("martin")}))
		wantIDs(t, "martin in de", search(t, svc, business.Input{Country: "de", Text: ptr("martin")}), "l2de")
		if p := search(t, svc, business.Input{Country: "de", Text: ptr("martin")}); p.Edges[0].Doc.SpecialtyLabels[0] != "Allgemeinmedizin" {
			t.Errorf("label in de = %v", p.Edges[0].Doc.SpecialtyLabels)
		}

		// Availability: p3 gets a slot; an older update is ignored; then none.
		if ok, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: "p3", Country: "fr", NextAvailableSlot: at(time.Hour)}, Now.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("availability p3: %v %v", ok, err)
		}
		wantIDs(t, "dermatology within a day", search(t, svc, business.Input{Specialty: ptr("dermatology"), AvailableWithinDays: ptr(1)}), "l3")
		if ok, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: "p3", Country: "fr"}, Now.Add(30*time.Second)); err != nil || ok {
			t.Fatalf("older availability applied: %v %v", ok, err)
		}
		wantIDs(t, "dermatology within a day, after the stale update", search(t, svc, business.Input{Specialty: ptr("dermatology"), AvailableWithinDays: ptr(1)}), "l3")
		if ok, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: "p3", Country: "fr"}, Now.Add(2*time.Minute)); err != nil || !ok {
			t.Fatalf("availability p3 none: %v %v", ok, err)
		}
		wantIDs(t, "dermatology within a day, fully booked", search(t, svc, business.Input{Specialty: ptr("dermatology"), AvailableWithinDays: ptr(1)}))

		// A practitioner without locations has no document; removal by version.
		p3 := byID["p3"]
		p3.Version, p3.Locations = 2, nil
		if ok, err := svc.ApplySnapshot(ctx, p3); err != nil || !ok {
			t.Fatalf("apply p3 v2: %v %v", ok, err)
		}
		wantIDs(t, "dermatology without locations", search(t, svc, business.Input{Specialty: ptr("dermatology")}))
		if ok, err := svc.DeletePractitioner(ctx, "fr", "p1", 3); err != nil || !ok {
			t.Fatalf("delete p1: %v %v", ok, err)
		}
		wantIDs(t, "deleted", search(t, svc, business.Input{Text: ptr("durand")}))
		p1.Version = 3
		if ok, err := svc.ApplySnapshot(ctx, p1); err != nil || ok {
			t.Fatalf("snapshot at the deleted version applied: %v %v", ok, err)
		}
		// An availability update before the practitioner's first snapshot is kept for it.
		if _, err := svc.ApplyAvailability(ctx, eventdata.Availability{PractitionerID: "p9", Country: "fr", NextAvailableSlot: at(3 * time.Hour)}, Now); err != nil {
			t.Fatal(err)
		}
		p9 := byID["g01"]
		p9.ID, p9.DisplayName, p9.Locations = "p9", "Dr Newcomer", []eventdata.Location{loc("l9", "Cabinet", "Paris", 48.85, 2.35)}
		if ok, err := svc.ApplySnapshot(ctx, p9); err != nil || !ok {
			t.Fatalf("apply p9: %v %v", ok, err)
		}
		if p := search(t, svc, business.Input{Text: ptr("newcomer")}); len(p.Edges) != 1 || p.Edges[0].Doc.NextAvailableSlot == nil || !p.Edges[0].Doc.NextAvailableSlot.Equal(*at(3 * time.Hour)) {
			t.Errorf("newcomer's next slot = %+v", p.Edges)
		}

		// Reset empties a country.
		if err := svc.Index().Reset(ctx, "de"); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "de after reset", search(t, svc, business.Input{Country: "de"}))
	})
}
