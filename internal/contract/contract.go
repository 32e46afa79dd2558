// Package contract loads the GraphQL operations Careslot's clients send (the
// shared client contract: patient web app, practitioner portal, operations
// console), so tests can validate them against the composed supergraph and run
// them through the router exactly as clients write them.
package contract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// Operation is one named operation of the contract.
type Operation struct {
	Name  string
	File  string
	Kind  ast.Operation
	Query string // the operation's text, with the fragments it uses
}

// Dir finds the contract directory: CARESLOT_CONTRACT_DIR, else the
// repository's contract/ (the clients' contract as shipped, in client/, and
// the project's own operations beside it). It returns "" when there is none.
func Dir(repoRoot string) string {
	if d := os.Getenv("CARESLOT_CONTRACT_DIR"); d != "" {
		return d
	}
	d := filepath.Join(repoRoot, "contract")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// SharedDir is the clients' contract as the product team keeps it, beside
// the repository (shared/contract), or "" when this checkout has none; the
// copy in contract/client must equal it.
func SharedDir(repoRoot string) string {
	d := filepath.Join(repoRoot, "..", "shared", "contract")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// Load reads every *.graphql file of dir and of its subdirectories.
func Load(dir string) (map[string]Operation, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".graphql") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("contract: no .graphql files in %s", dir)
	}
	sort.Strings(files)
	ops := map[string]Operation{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		doc, gerr := parser.ParseQuery(&ast.Source{Name: filepath.Base(f), Input: string(src)})
		if gerr != nil {
			return nil, fmt.Errorf("contract: %s: %w", f, gerr)
		}
		for _, op := range doc.Operations {
			if op.Name == "" {
				return nil, fmt.Errorf("contract: %s has an anonymous operation", f)
			}
			if _, dup := ops[op.Name]; dup {
				return nil, fmt.Errorf("contract: operation %s defined twice", op.Name)
			}
			single := &ast.QueryDocument{Operations: ast.OperationList{op}, Fragments: doc.Fragments}
			var sb strings.Builder
			formatter.NewFormatter(&sb).FormatQueryDocument(single)
			ops[op.Name] = Operation{Name: op.Name, File: filepath.Base(f), Kind: op.Operation, Query: sb.String()}
		}
	}
	return ops, nil
}

// MustGet returns a named operation's text.
func MustGet(ops map[string]Operation, name string) string {
	op, ok := ops[name]
	if !ok {
		panic(errors.New("contract: no operation " + name))
	}
	return op.Query
}
