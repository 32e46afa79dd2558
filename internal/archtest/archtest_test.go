package archtest

import (
	"slices"
	"strings"
	"testing"
)

// TestLayering holds the module to its layering (docs/CONVENTIONS.md).
func TestLayering(t *testing.T) {
	module, g, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	// The loaded graph has the edges the checker judges.
	if !slices.Contains(g[module+"/subgraphs/booking/graph"], module+"/subgraphs/booking/business") {
		t.Fatalf("the import graph misses booking's graph → business (%d packages)", len(g))
	}
	for _, v := range Violations(module, g) {
		t.Error(v)
	}
}

// TestViolationsFound gives the checker a synthetic module with one breach of
// each rule beside imports the layering allows, and expects exactly the breaches.
func TestViolationsFound(t *testing.T) {
	const m = "example.org/app"
	g := Imports{
		// allowed
		m + "/subgraphs/a/graph":               {m + "/subgraphs/a/business", m + "/subgraphs/a/graph/model", m + "/internal/apperr", "context"},
		m + "/subgraphs/a/business":            {m + "/subgraphs/a/store", m + "/internal/outbox"},
		m + "/subgraphs/a/store":               {m + "/internal/postgres"},
		m + "/subgraphs/a":                     {m + "/subgraphs/a/graph", m + "/subgraphs/a/business", m + "/subgraphs/a/store"},
		m + "/internal/platform":               {m + "/subgraphs/a", m + "/subgraphs/b"},
		m + "/cmd/app":                         {m + "/internal/platform", m + "/subgraphs/b/seed"},
		m + "/subgraphs/b/store/embedded":      {m + "/subgraphs/b/store/relevance"},
		m + "/subgraphs/b/store/embedded_test": {m + "/subgraphs/b/business", m + "/subgraphs/b/store/embedded"},
		// breaches
		m + "/subgraphs/b/graph":       {m + "/subgraphs/b/store"},
		m + "/subgraphs/b/graph/model": {m + "/subgraphs/b/store/embedded"},
		m + "/subgraphs/b/business":    {m + "/subgraphs/b/graph/model"},
		m + "/subgraphs/b/store":       {m + "/subgraphs/b/business"},
		m + "/subgraphs/c/business":    {m + "/subgraphs/a/store"},
		m + "/subgraphs/c":             {m + "/subgraphs/a"},
		m + "/internal/events":         {m + "/subgraphs/a/business"},
		m + "/subgraphs/b/graph_test":  {m + "/subgraphs/a/graph"},
	}
	got := Violations(m, g)
	want := []struct{ from, to, rule string }{
		{"subgraphs/b/graph", "subgraphs/b/store", "graph/ depends on business/ only"},
		{"subgraphs/b/graph/model", "subgraphs/b/store/embedded", "graph/ depends on business/ only"},
		{"subgraphs/b/business", "subgraphs/b/graph/model", "business/ never imports graph/"},
		{"subgraphs/b/store", "subgraphs/b/business", "store/ imports neither"},
		{"subgraphs/c/business", "subgraphs/a/store", "one subgraph never imports another's"},
		{"subgraphs/c", "subgraphs/a", "one subgraph never imports another's"},
		{"internal/events", "subgraphs/a/business", "only internal/platform builds subgraphs"},
		{"subgraphs/b/graph_test", "subgraphs/a/graph", "one subgraph never imports another's"},
	}
	if len(got) != len(want) {
		t.Errorf("%d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		prefix := m + "/" + w.from + " imports " + m + "/" + w.to + ": "
		if !slices.ContainsFunc(got, func(v string) bool {
			return strings.HasPrefix(v, prefix) && strings.Contains(v, w.rule)
		}) {
			t.Errorf("not found: %s… (%s)", prefix, w.rule)
		}
	}
}
