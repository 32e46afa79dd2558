package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// maxInspectedBody is the largest body the edge reads ahead of the router; a larger one is left
// to the router's body limit (1 MB).
const maxInspectedBody = 1 << 20

// maxInspectedDepth: a document nested deeper than this is left to the router's parser limits,
// which refuse it before expanding anything.
const maxInspectedDepth = 100

// fragmentCheck looks, before the router parses it, at an operation that spreads fragments: the
// router expands fragments before it counts fields, so a few kilobytes whose fragments each
// spread the next one twice expand to millions of fields (seconds of CPU and gigabytes in the
// router), and its introspection switch only sees fields at the top of the operation, not in a
// fragment (where the router then fails with a 500). Documents without "..." are not parsed.
type fragmentCheck struct {
	maxExpandedFields int64 // 0: no limit
	introspection     bool  // introspection is allowed (development)
}

// refusal is why a request is refused before the router sees it.
type refusal struct {
	status int
	err    gqlError
}

// check returns a refusal, or nil; it gives r its body back either way.
func (f fragmentCheck) check(r *http.Request) *refusal {
	var query string
	switch r.Method {
	case http.MethodGet:
		query = r.URL.Query().Get("query")
	case http.MethodPost:
		if r.Body == nil || r.ContentLength > maxInspectedBody {
			return nil
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxInspectedBody+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
		if err != nil || len(raw) > maxInspectedBody || !bytes.Contains(raw, []byte("...")) {
			return nil
		}
		var req struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(raw, &req) != nil {
			return nil // the router answers malformed bodies
		}
		query = req.Query
	default:
		return nil
	}
	if !strings.Contains(query, "...") || braceDepth(query) > maxInspectedDepth {
		return nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil // the router answers syntax errors
	}
	return f.inspect(doc)
}

func (f fragmentCheck) inspect(doc *ast.QueryDocument) *refusal {
	a := expansion{doc: doc, size: map[string]int64{}, busy: map[string]bool{}}
	for _, op := range doc.Operations {
		if n := a.setSize(op.SelectionSet); f.maxExpandedFields > 0 && n > f.maxExpandedFields {
			return &refusal{status: http.StatusBadRequest, err: gqlError{
				Message:    fmt.Sprintf("the operation expands to more than %d fields (its fragments are spread too often)", f.maxExpandedFields),
				Extensions: map[string]any{"code": CodeQueryTooComplex},
			}}
		}
		if !f.introspection && op.Operation == ast.Query && a.introspects(op.SelectionSet, map[string]bool{}) {
			return &refusal{status: http.StatusOK, err: gqlError{
				Message:    "GraphQL introspection is disabled",
				Extensions: map[string]any{"code": CodeIntrospectionDisabled},
			}}
		}
	}
	return nil
}

// expansion counts the fields an operation has once its fragments are spread, each fragment
// counted once and reused (memoised), saturating far above any limit.
type expansion struct {
	doc  *ast.QueryDocument
	size map[string]int64
	busy map[string]bool // fragments being counted: a cycle counts nothing (the router refuses it)
}

const saturated = int64(1) << 40

func (a *expansion) setSize(set ast.SelectionSet) int64 {
	var n int64
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + a.setSize(s.SelectionSet)
		case *ast.InlineFragment:
			n += a.setSize(s.SelectionSet)
		case *ast.FragmentSpread:
			n += a.fragmentSize(s.Name)
		}
		if n > saturated {
			return saturated
		}
	}
	return n
}

func (a *expansion) fragmentSize(name string) int64 {
	if n, ok := a.size[name]; ok {
		return n
	}
	def := a.doc.Fragments.ForName(name)
	if def == nil || a.busy[name] {
		return 0
	}
	a.busy[name] = true
	n := a.setSize(def.SelectionSet)
	delete(a.busy, name)
	a.size[name] = n
	return n
}

// introspects reports whether the root selection reaches __schema or __type through fragments.
func (a *expansion) introspects(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if a.introspects(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if def := a.doc.Fragments.ForName(s.Name); def != nil && a.introspects(def.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}

// braceDepth is the deepest nesting of { in a document, strings and comments aside (roughly:
// enough to keep a recursive parser out of a hostile document).
func braceDepth(s string) int {
	depth, deepest := 0, 0
	inString, inComment := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inComment:
			if c == '\n' || c == '\r' {
				inComment = false
			}
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '#':
			inComment = true
		case c == '"':
			inString = true
		case c == '{' || c == '(' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ')' || c == ']':
			depth--
		}
	}
	return deepest
}

type readCloser struct {
	io.Reader
	io.Closer
}
