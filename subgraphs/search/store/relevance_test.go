package store_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

// TestOpenSearchRelevanceFromTheGoDefinition reads the RELEVANCE script out
// of the golden OpenSearch request bodies (what is pinned is what is sent)
// and checks it is package relevance's script with its constants: the
// cluster ranks by the numbers the embedded engine and the tests use.
func TestOpenSearchRelevanceFromTheGoDefinition(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) // as in TestOpenSearchRequestBodies
	for _, tc := range []struct {
		golden   string
		near     bool
		lat, lon float64
	}{
		{"search_relevance_all_filters", true, 48.8566, 2.3522},
		{"search_relevance_bare", false, 0, 0},
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", tc.golden+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Query struct {
				ScriptScore struct {
					Script struct {
						Lang   string         `json:"lang"`
						Source string         `json:"source"`
						Params map[string]any `json:"params"`
					} `json:"script"`
				} `json:"script_score"`
			} `json:"query"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("%s: %v", tc.golden, err)
		}
		s := body.Query.ScriptScore.Script
		if s.Lang != "painless" || s.Source != relevance.Script {
			t.Errorf("%s: script (%s) is not relevance.Script:\n%s", tc.golden, s.Lang, s.Source)
		}
		want := map[string]any{
			"dist_km": relevance.HalfDistanceKm, "slot_h": relevance.HalfSlotHours, "rating_max": relevance.MaxRating,
			"wd": relevance.WeightDistance, "ws": relevance.WeightSlot, "wr": relevance.WeightRating,
			"now": float64(now.UnixMilli()), "near": tc.near, "lat": tc.lat, "lon": tc.lon,
		}
		if !maps.Equal(s.Params, want) {
			t.Errorf("%s: script params = %v\nwant (the Go constants) %v", tc.golden, s.Params, want)
		}
	}
}
