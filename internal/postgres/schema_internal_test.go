package postgres

import "testing"

// TestMinKnownVersion: a build must know the newest migration that is not
// expand-only; expand-only ones after it leave older builds serving.
func TestMinKnownVersion(t *testing.T) {
	for _, tc := range []struct {
		ms   []migration
		want int64
	}{
		{nil, 0},
		{[]migration{{1, false}, {2, false}}, 2},
		{[]migration{{1, false}, {2, true}, {3, true}}, 1},
		{[]migration{{1, false}, {2, true}, {3, false}, {4, true}}, 3},
	} {
		if got := minKnownVersion(tc.ms); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.ms, got, tc.want)
		}
	}
	// This build's sets read from the embedded files.
	ms, err := embedded("booking")
	if err != nil || len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("booking's migrations: %v %v", ms, err)
	}
	for i, m := range ms[1:] {
		if m.version <= ms[i].version {
			t.Fatalf("not in version order: %v", ms)
		}
	}
}
