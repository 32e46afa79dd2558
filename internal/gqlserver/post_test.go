package gqlserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor/testexecutor"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// TestPostAnswersAsGqlgen: the POST transport that copies the executor's data verbatim answers
// every kind of request byte for byte as gqlgen's own: data, an error the operation reports,
// requests refused before execution (malformed body, parse and validation errors), and the media
// type each Accept header gets.
func TestPostAnswersAsGqlgen(t *testing.T) {
	exec := testexecutor.New()
	for _, c := range []struct{ name, body, accept string }{
		{"query", `{"query":"{ name }"}`, ""},
		{"query, graphql-response accepted", `{"query":"query Q { name }","operationName":"Q"}`, "application/graphql-response+json"},
		{"query, anything accepted", `{"query":"{ name }"}`, "*/*"},
		{"query, neither accepted", `{"query":"{ name }"}`, "text/html"},
		{"error from the operation", `{"query":"mutation { name }"}`, "application/json"},
		{"validation error", `{"query":"{ nope }"}`, ""},
		{"validation error, graphql-response", `{"query":"{ nope }"}`, "application/graphql-response+json"},
		{"parse error", `{"query":"{ name "}`, ""},
		{"malformed body", `{"query":`, ""},
		{"variables of the wrong type", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			do := func(useOurs bool) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(c.body))
				r = r.WithContext(graphql.StartOperationTrace(r.Context())) // as gqlgen's handler does first
				r.Header.Set("Content-Type", "application/json")
				if c.accept != "" {
					r.Header.Set("Accept", c.accept)
				}
				w := httptest.NewRecorder()
				if useOurs {
					post{}.Do(w, r, exec)
				} else {
					transport.POST{}.Do(w, r, exec)
				}
				return w
			}
			want, got := do(false), do(true)
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Body.String() != want.Body.String() {
				t.Errorf("ours: %d %q %s\ngqlgen: %d %q %s", got.Code, got.Header().Get("Content-Type"), got.Body,
					want.Code, want.Header().Get("Content-Type"), want.Body)
			}
		})
	}
}
