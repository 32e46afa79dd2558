package keylanes

import (
	"sync"
	"testing"
)

// TestRunKeepsEachKeyInOrderAndStopsOnlyItsLane: a key's items run in index order; a false ends
// its key's lane only, other keys go on; with one lane it ends the run. (That a key's items never
// overlap is checked through the notification sender, TestSenderSendsPatientsAtOnceAndEachOneAtATime.)
func TestRunKeepsEachKeyInOrderAndStopsOnlyItsLane(t *testing.T) {
	keys := []string{"a", "b", "a", "c", "b", "a", "c"}
	var mu sync.Mutex
	var ran []int
	Run(len(keys), 3, func(i int) string { return keys[i] }, func(i int) bool {
		mu.Lock()
		ran = append(ran, i)
		mu.Unlock()
		return i != 1 // b's first item fails: b's later item (4) is not run
	})
	last := map[string]int{}
	seen := map[int]bool{}
	for _, i := range ran {
		if j, ok := last[keys[i]]; ok && j > i {
			t.Fatalf("key %q ran %d after %d", keys[i], i, j)
		}
		last[keys[i]] = i
		seen[i] = true
	}
	for i := range keys {
		if want := i != 4; seen[i] != want {
			t.Fatalf("item %d ran: %v, want %v (ran %v)", i, seen[i], want, ran)
		}
	}

	var serial []int
	Run(len(keys), 1, func(i int) string { return keys[i] }, func(i int) bool {
		serial = append(serial, i)
		return i != 2
	})
	if len(serial) != 3 {
		t.Fatalf("one lane ran %v, want it to end at the first false (0, 1, 2)", serial)
	}
}
