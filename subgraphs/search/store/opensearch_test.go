package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/search/indextest"
	"github.com/careslot/careslot/subgraphs/search/store"
)

var update = flag.Bool("update", false, "rewrite the golden OpenSearch request bodies in testdata/")

// golden compares v, as indented JSON, with testdata/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, got)
	}
}

func ptr[T any](v T) *T { return &v }

// TestOpenSearchRequestBodies pins the exact request bodies; no server needed.
func TestOpenSearchRequestBodies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	near := &store.Near{Lat: 48.8566, Lon: 2.3522, RadiusKm: 12.5}
	golden(t, "index", store.IndexBody())
	golden(t, "versions_index", store.VersionsIndexBody())
	golden(t, "search_relevance_all_filters", store.SearchBody(store.Query{
		Country: "fr", Specialty: "general-practice", Near: near, AvailableBefore: ptr(now.Add(7 * 24 * time.Hour)),
		Language: "en", VisitMode: store.ModeVideo, AcceptsNewPatients: ptr(true), Text: "Émilie DUR",
		Sort: store.SortRelevance, Now: now, Limit: 20,
	}))
	golden(t, "search_relevance_bare", store.SearchBody(store.Query{Country: "fr", Sort: store.SortRelevance, Now: now, Limit: 20}))
	golden(t, "search_distance_after", store.SearchBody(store.Query{
		Country: "fr", Specialty: "dermatology", Near: near, Sort: store.SortDistance, Now: now, Limit: 10,
		After: []any{json.Number("1.2345"), "l1"},
	}))
	golden(t, "search_soonest_after", store.SearchBody(store.Query{
		Country: "de", AcceptsNewPatients: ptr(false), Sort: store.SortSoonest, Now: now, Limit: 50,
		After: []any{json.Number("9223372036854775807"), "l9"},
	}))
	golden(t, "remove_older", store.RemoveOlderBody("p1", 7))
	golden(t, "set_next", store.SetNextBody("p1", ptr(now.Add(90*time.Minute))))
	golden(t, "set_next_none", store.SetNextBody("p1", nil))

	bulk := store.BulkBody("practitioners_fr", store.Practice{ID: "p1", Country: "fr", Version: 3, Docs: []store.Document{{
		ID: "l1", PractitionerID: "p1", Version: 3, Country: "fr", DisplayName: "Dr Émilie Durand",
		Specialties: []string{"general-practice"}, SpecialtyLabels: []string{"Médecin généraliste"},
		Languages: []string{"fr", "en"}, AcceptsNewPatients: true, Rating: ptr(4.8), VisitModes: []string{"IN_PERSON"},
		AppointmentTypes: []store.AppointmentType{{ID: "t1", Name: "Consultation", VisitMode: "IN_PERSON", NewPatientsAllowed: true}},
		LocationName:     "Cabinet Rivoli", City: "Paris", Lat: 48.8566, Lon: 2.3522,
	}}}, ptr(now.Add(time.Hour)))
	var lines []json.RawMessage
	for _, l := range strings.Split(strings.TrimSpace(string(bulk)), "\n") {
		lines = append(lines, json.RawMessage(l))
	}
	golden(t, "bulk", lines)
}

// TestOpenSearchSuite runs the shared suite against a real cluster.
func TestOpenSearchSuite(t *testing.T) {
	url := os.Getenv("OPENSEARCH_URL")
	if url == "" {
		t.Skip("OPENSEARCH_URL not set: OpenSearch backend suite skipped (golden request tests still ran)")
	}
	indextest.Run(t, func(t *testing.T) store.Index {
		prefix := "t" + testenv.Suffix() + "_"
		idx, err := store.NewOpenSearch(url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, cc := range []string{"fr", "de", "it"} {
			if err := idx.EnsureIndex(context.Background(), cc); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			for _, cc := range []string{"fr", "de", "it"} {
				_ = idx.Reset(context.Background(), cc)
			}
			_ = idx.DropAll(context.Background())
		})
		return idx
	})
}
