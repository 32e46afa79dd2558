// Package archtest checks the module's layering from its import graph:
// within a subgraph graph/ → business/ → store/, never the other way and
// never past business; no subgraph reaches into another; internal/ is
// platform code that only internal/platform (the wiring that builds the
// subgraphs into a process) may tie to a subgraph. The rules are in
// Violations, a function of an import graph, so a test can give it a
// synthetic one and see it fail.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Imports maps a package's import path to the packages it imports, its
// in-package tests' imports included. A package's external tests (package
// x_test) are a node of their own, path + "_test": like any client of the
// package they may drive it through the layer above (a store's tests
// through the business service), but they stay inside their subgraph.
type Imports map[string][]string

// Violations lists every import in g that breaks the layering of the module
// whose path is module, one sentence each, sorted.
func Violations(module string, g Imports) []string {
	var out []string
	for from, imports := range g {
		for _, to := range imports {
			if why := breach(module, from, to); why != "" {
				out = append(out, fmt.Sprintf("%s imports %s: %s", from, to, why))
			}
		}
	}
	sort.Strings(out)
	return out
}

// breach says why from may not import to, or "" when it may.
func breach(module, from, to string) string {
	pkg, external := strings.CutSuffix(from, "_test")
	f, ok := within(module, pkg)
	if !ok {
		return ""
	}
	t, ok := within(module, to)
	if !ok || t[0] != "subgraphs" || len(t) < 2 {
		return ""
	}
	switch {
	case f[0] == "internal":
		if len(f) >= 2 && f[1] == "platform" {
			return ""
		}
		return "internal/ is platform code; only internal/platform builds subgraphs"
	case f[0] != "subgraphs" || len(f) < 2:
		return "" // cmd/, bench/, e2e/: wiring and tests of the whole
	case f[1] != t[1]:
		return "one subgraph never imports another's packages; services meet through the router, events and internal HTTP endpoints"
	case external:
		return "" // an external test package: a client, not a layer
	}
	switch layer(f) + ">" + layer(t) {
	case "graph>store":
		return "graph/ depends on business/ only"
	case "business>graph":
		return "business/ never imports graph/"
	case "store>business", "store>graph":
		return "store/ imports neither business/ nor graph/"
	}
	return ""
}

// within splits path into its segments inside module; false when path is
// not in module.
func within(module, path string) ([]string, bool) {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return nil, false
	}
	return strings.Split(rel, "/"), true
}

// layer is a subgraph package's layer: graph, business, store, or another
// folder name ("" for the subgraph's root package). A package below a layer
// (graph/model, store/embedded) is of that layer.
func layer(segments []string) string {
	if len(segments) < 3 {
		return ""
	}
	return segments[2]
}

// Load lists the packages of the module that holds dir (`go list`), with
// their own and their tests' imports, and returns the module's path.
func Load(dir string) (module string, g Imports, err error) {
	mod, err := goCommand(dir, "list", "-m")
	if err != nil {
		return "", nil, err
	}
	module = strings.TrimSpace(string(mod))
	root, err := goCommand(dir, "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return "", nil, err
	}
	out, err := goCommand(filepath.Clean(strings.TrimSpace(string(root))), "list", "-e",
		"-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	if err != nil {
		return "", nil, err
	}
	g = Imports{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Error                              *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil {
			return "", nil, fmt.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		g[p.ImportPath] = append(p.Imports, p.TestImports...)
		if len(p.XTestImports) > 0 {
			g[p.ImportPath+"_test"] = p.XTestImports
		}
	}
	if len(g) == 0 {
		return "", nil, errors.New("go list found no packages")
	}
	return module, g, nil
}

func goCommand(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
