package search_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/careslot/careslot/internal/compose"
)

// shareableFields are the practitioner subgraph's fields the search subgraph
// also resolves (from its index); both sides must mark them @shareable, and
// the practitioner subgraph must have Location.city.
var shareableFields = map[string][]string{
	"Practitioner": {"displayName", "specialties", "languages", "acceptsNewPatients", "rating"},
	"Location":     {"name", "city", "coordinates"},
}

// patchPractitioner applies to schema/practitioner.graphqls the changes the
// practitioner subgraph needs for composition with search (idempotently, so
// the test keeps passing once they are made there).
func patchPractitioner(t *testing.T, sdl string) string {
	t.Helper()
	for typ, fields := range shareableFields {
		block := regexp.MustCompile(`(?s)type ` + typ + ` @key\(fields: "id"\)[^{]*\{.*?\n\}`).FindStringIndex(sdl)
		if block == nil {
			t.Fatalf("type %s not found in practitioner.graphqls", typ)
		}
		body := sdl[block[0]:block[1]]
		for _, f := range fields {
			re := regexp.MustCompile(`(?m)^(\s+` + f + `(\([^)]*\))?: [^\n@]+?)( @shareable)?$`)
			if !re.MatchString(body) {
				if f != "city" {
					t.Fatalf("%s.%s not found", typ, f)
				}
				body = strings.Replace(body, "\n}", "\n  city: String! @shareable\n}", 1)
				continue
			}
			body = re.ReplaceAllString(body, "$1 @shareable")
		}
		sdl = sdl[:block[0]] + body + sdl[block[1]:]
	}
	return sdl
}

func composeWith(t *testing.T, practitionerSDL string) error {
	t.Helper()
	dir := t.TempDir()
	search, err := os.ReadFile(filepath.Join("..", "..", "schema", "search.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		compose.SubgraphsFile: `subgraphs:
  - name: practitioner
    routing_url: http://127.0.0.1:4001/graphql
    schema: schema/practitioner.graphqls
  - name: search
    routing_url: http://127.0.0.1:4003/graphql
    schema: schema/search.graphqls
`,
		"schema/practitioner.graphqls": practitionerSDL,
		"schema/search.graphqls":       string(search),
	}
	for rel, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := compose.Compose(dir)
	if err == nil && !strings.Contains(string(out), "searchPractitioners") {
		t.Fatalf("composed configuration lacks searchPractitioners")
	}
	return err
}

// TestComposition composes the search schema with the practitioner schema
// patched as the practitioner subgraph must be for integration.
func TestComposition(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "schema", "practitioner.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	patched := patchPractitioner(t, string(raw))
	if err := composeWith(t, patched); err != nil {
		t.Fatalf("search does not compose with the patched practitioner schema: %v\n%s", err, patched)
	}
	if patched != string(raw) {
		t.Logf("schema/practitioner.graphqls still needs the @shareable fields and Location.city for composition")
		if err := composeWith(t, string(raw)); err == nil {
			t.Logf("note: it composes unpatched too")
		} else if testing.Verbose() {
			t.Logf("unpatched: %v", err)
		}
	}
}
