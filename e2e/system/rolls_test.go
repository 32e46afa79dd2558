package system

import (
	"fmt"
	"testing"
	"time"

	"github.com/careslot/careslot/subgraphs/availability/store"
)

// TestSkipPendingRollsLeavesOnlyRollsToCome: in the hour after midnight in
// Paris, a practitioner whose live roll is still to come is left out of the
// comparison, record and due time; one already rolled, or due later in the
// day, is compared.
func TestSkipPendingRollsLeavesOnlyRollsToCome(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone data")
	}
	now := time.Date(2026, 12, 8, 0, 10, 0, 0, paris)
	at := func(h, m int) string {
		return fmt.Sprint(float64(time.Date(2026, 12, 8, h, m, 0, 0, paris).Unix())) // as dumpModel writes a score
	}
	k := store.Keys{}
	live := map[string]string{
		k.Due():            "rolled=" + at(8, 0) + ";torollA=" + at(0, 46),
		k.Record("rolled"): "today", k.Record("torollA"): "yesterday", k.Busy("torollA"): "x=1",
	}
	fresh := map[string]string{
		k.Due():            "rolled=" + at(8, 0) + ";torollA=" + at(8, 0),
		k.Record("rolled"): "today", k.Record("torollA"): "today", k.Busy("torollA"): "x=1",
	}
	skipPendingRolls(live, fresh, now)
	if d := diffModels(live, fresh); len(d) != 0 {
		t.Fatalf("differences left: %v", d)
	}
	if _, ok := live[k.Record("rolled")]; !ok || live[k.Due()] != "rolled="+at(8, 0) {
		t.Fatalf("the rolled practitioner was left out too: %v", live)
	}
	live[k.Record("rolled")] = "stale"
	if d := diffModels(live, fresh); len(d) != 1 {
		t.Fatalf("a difference of a rolled practitioner is not reported: %v", d)
	}
	later := map[string]string{k.Due(): "torollA=" + at(0, 46), k.Record("torollA"): "yesterday"}
	skipPendingRolls(later, map[string]string{}, now.Add(2*time.Hour))
	if _, ok := later[k.Record("torollA")]; !ok {
		t.Fatal("a roll that should have happened is left out")
	}
}
