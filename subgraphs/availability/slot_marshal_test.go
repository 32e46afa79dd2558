package availability_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/gqltest"
)

// TestSlotSelection: a listing writes its slots itself (model.Slots.MarshalGQLContext) rather than through
// gqlgen's field-by-field executor, and must still answer exactly what was selected: aliases,
// __typename, named and inline fragments, @skip/@include, location's own selection, in the
// order asked.
func TestSlotSelection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	mustApplyP(t, e, snapshot("sel", 1))
	srv := httptest.NewServer(e.sg.Handler())
	t.Cleanup(srv.Close)

	const query = `query($reps: [_Any!]!, $from: Date!, $to: Date!, $withEnd: Boolean!) {
  _entities(representations: $reps) {
    ... on Practitioner {
      availableSlots(appointmentTypeId: "consult-sel", from: $from, to: $to) {
        __typename
        begins: startsAt
        ...Ends
        ... on Slot { where: location { __typename id ref: id } }
        startsAt @skip(if: true)
      }
    }
  }
}
fragment Ends on Slot { endsAt @include(if: $withEnd) }`
	want := list(t, e.svc, "sel", "consult-sel", date(0), date(1))
	if len(want) == 0 {
		t.Fatal("no open slots to list")
	}
	first := want[0]
	stamp := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for _, withEnd := range []bool{true, false} {
		res := gqltest.Do(t, srv.URL, "", query, map[string]any{"reps": []map[string]any{{"__typename": "Practitioner", "id": "sel"}},
			"from": date(0), "to": date(1), "withEnd": withEnd})
		if len(res.Errors) > 0 {
			t.Fatalf("errors: %+v", res.Errors)
		}
		var data struct {
			Entities []struct {
				AvailableSlots []json.RawMessage `json:"availableSlots"`
			} `json:"_entities"`
		}
		if err := json.Unmarshal(res.Data, &data); err != nil || len(data.Entities) != 1 {
			t.Fatalf("%v: %s", err, res.Data)
		}
		got := data.Entities[0].AvailableSlots
		if len(got) != len(want) {
			t.Fatalf("%d slots, want %d", len(got), len(want))
		}
		exp := `{"__typename":"Slot","begins":"` + stamp(first.Start) + `",`
		if withEnd {
			exp += `"endsAt":"` + stamp(first.End) + `",`
		}
		exp += `"where":{"__typename":"Location","id":"loc-sel","ref":"loc-sel"}}`
		if string(got[0]) != exp {
			t.Errorf("withEnd=%v: first slot\n got %s\nwant %s", withEnd, got[0], exp)
		}
	}
}
