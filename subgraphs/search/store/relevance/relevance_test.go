package relevance_test

import (
	"maps"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/search/store/relevance"
)

func ptr[T any](v T) *T { return &v }

// TestScore pins the formula on hand-worked cases: each part at its best, at
// its half-way point, and absent.
func TestScore(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		distance *float64
		next     *time.Time
		rating   *float64
		want     float64
	}{
		{"nothing known", nil, nil, nil, 0},
		{"next door", ptr(0.0), nil, nil, 0.5},
		{"10 km: half the distance part", ptr(10.0), nil, nil, 0.25},
		{"30 km: a quarter", ptr(30.0), nil, nil, 0.125},
		{"slot now", nil, ptr(now), nil, 0.3},
		{"slot in the past counts as now", nil, ptr(now.Add(-5 * time.Hour)), nil, 0.3},
		{"slot in 48 h: half the slot part", nil, ptr(now.Add(48 * time.Hour)), nil, 0.15},
		{"slot in 144 h: a quarter", nil, ptr(now.Add(144 * time.Hour)), nil, 0.075},
		{"rated 5/5", nil, nil, ptr(5.0), 0.2},
		{"rated 2.5/5", nil, nil, ptr(2.5), 0.1},
		{"rated 0/5 is not unrated, and scores the same", nil, nil, ptr(0.0), 0},
		{"all at their best", ptr(0.0), ptr(now), ptr(5.0), 1},
		{"10 km, slot in 48 h, 4/5", ptr(10.0), ptr(now.Add(48 * time.Hour)), ptr(4.0), 0.25 + 0.15 + 0.16},
	} {
		got := relevance.Score(relevance.InputsOf(tc.distance, tc.next, tc.rating, now))
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Score = %.15f, want %.15f", tc.name, got, tc.want)
		}
	}
}

// TestScoreDoesNotAllocate: the embedded engine scores every matching grid entry.
func TestScoreDoesNotAllocate(t *testing.T) {
	in := relevance.Inputs{Near: true, DistanceKm: 3, HasSlot: true, SlotUnixMilli: 7_200_000, Rated: true, Rating: 4.5}
	var sink float64
	if n := testing.AllocsPerRun(100, func() { sink += relevance.Score(in) }); n != 0 {
		t.Errorf("Score allocates %.0f times", n)
	}
	_ = sink
}

// TestScriptUsesExactlyItsParams: every parameter the Painless script reads
// is one ScriptParams sets, and every one set is read, so a constant cannot
// be added to one side only.
func TestScriptUsesExactlyItsParams(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`params\.([a-z_]+)`).FindAllStringSubmatch(relevance.Script, -1) {
		used[m[1]] = true
	}
	params := relevance.ScriptParams(time.Unix(0, 0), true, 1, 2)
	if got, want := slices.Sorted(maps.Keys(used)), slices.Sorted(maps.Keys(params)); !slices.Equal(got, want) {
		t.Errorf("script reads %v, ScriptParams sets %v", got, want)
	}
	if p := relevance.ScriptParams(time.Unix(0, 0), false, 1, 2); p["lat"] != 0.0 || p["lon"] != 0.0 || p["near"] != false {
		t.Errorf("params without a point: %v", p)
	}
}
