package routerconfig_test

import (
	"slices"
	"testing"

	"github.com/wundergraph/cosmo/router/core"
	"github.com/wundergraph/graphql-go-tools/v2/pkg/astparser"
	"github.com/wundergraph/graphql-go-tools/v2/pkg/engine/resolve"
	"go.uber.org/zap"

	"github.com/careslot/careslot/internal/contract"
)

// fetchesOf lists the subgraphs a plan fetches from, in plan order.
func fetchesOf(n *resolve.FetchTreeQueryPlanNode) []string {
	if n == nil {
		return nil
	}
	var out []string
	if n.Fetch != nil {
		out = append(out, n.Fetch.SubgraphName)
	}
	for _, c := range n.Children {
		out = append(out, fetchesOf(c)...)
	}
	return out
}

// TestHotQueriesPlans plans every query of the contract with the router's own planner over the
// committed config.json, and pins the subgraph fetches of the hottest reads: a search page is
// answered by the search subgraph alone (the practitioner and location fields it shows are
// @shareable copies in its index), so a schema change that made the router join it with the
// practitioner subgraph fails here rather than in make bench; a slot listing is the
// practitioner's key, then availability.
func TestHotQueriesPlans(t *testing.T) {
	gen, err := core.NewPlanGenerator("config.json", zap.NewNop(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := contract.Load(contract.Dir(".."))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"SearchPractitioners": {"search"},
		"PractitionerSlots":   {"practitioner", "availability"},
	}
	planned := map[string][]string{}
	for name, op := range ops {
		if op.Kind != "query" {
			continue
		}
		planner, err := gen.GetPlanner()
		if err != nil {
			t.Fatal(err)
		}
		doc, report := astparser.ParseGraphqlDocumentString(op.Query)
		if report.HasErrors() {
			t.Fatalf("%s: %s", name, report.Error())
		}
		plan, err := planner.PlanParsedOperation(&doc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		planned[name] = fetchesOf(plan)
	}
	for name, fetches := range want {
		got, ok := planned[name]
		if !ok {
			t.Errorf("%s: not a query of the contract", name)
			continue
		}
		if !slices.Equal(got, fetches) {
			t.Errorf("%s fetches from %v, want %v", name, got, fetches)
		}
	}
}
