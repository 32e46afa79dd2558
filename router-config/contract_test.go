package routerconfig_test

import (
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/careslot/careslot/internal/contract"
)

// notServedYet lists the contract operations the composed supergraph does not
// serve yet. Each issue that serves some removes them here; the list ends
// empty. The test fails if a listed operation starts validating (so the list
// never lies) and if an unlisted one does not.
var notServedYet = map[string]string{}

func clientSchema(t *testing.T) *ast.Schema {
	t.Helper()
	raw, err := os.ReadFile("config.json")
	if err != nil {
		t.Fatalf("composed config: %v (run make generate)", err)
	}
	var cfg struct {
		EngineConfig struct {
			GraphqlClientSchema string `json:"graphqlClientSchema"`
		} `json:"engineConfig"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "supergraph", Input: cfg.EngineConfig.GraphqlClientSchema})
	if gerr != nil {
		t.Fatalf("client schema: %v", gerr)
	}
	return schema
}

// TestContractOperationsValidate checks every client operation against the
// composed client schema the router serves.
func TestContractOperationsValidate(t *testing.T) {
	dir := contract.Dir("..")
	if dir == "" {
		t.Fatal("no contract/ directory in the repository and CARESLOT_CONTRACT_DIR is unset")
	}
	ops, err := contract.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema := clientSchema(t)
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		op := ops[name]
		t.Run(name, func(t *testing.T) {
			doc, perr := parser.ParseQuery(&ast.Source{Name: op.File, Input: op.Query})
			if perr != nil {
				t.Fatalf("parse: %v", perr)
			}
			errs := validator.Validate(schema, doc)
			reason, listed := notServedYet[name]
			switch {
			case listed && len(errs) == 0:
				t.Errorf("%s validates now: remove it from notServedYet (%s)", name, reason)
			case !listed && len(errs) > 0:
				t.Errorf("%s (%s) does not validate against the supergraph: %v", name, op.File, errs)
			}
		})
	}
	for name := range notServedYet {
		if _, ok := ops[name]; !ok {
			t.Errorf("notServedYet names %s, which is not in the contract", name)
		}
	}
}
