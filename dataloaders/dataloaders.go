// Package dataloaders turns per-item lookups made while resolving one GraphQL
// request into one batched store query per kind (over vikstrous/dataloadgen),
// so a page of 20 practitioners costs one query for their locations, not 20.
// Each subgraph declares its loaders from these builders and attaches a fresh
// set to every request (caches must not outlive a request).
package dataloaders

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"
)

// Wait is how long a loader gathers keys before fetching. Resolvers of one
// request run concurrently, so a short wait collects a whole page.
const Wait = time.Millisecond

// ErrNotFound is returned by a ByKey loader for a key with no row.
var ErrNotFound = dataloadgen.ErrNotFound

// Loader is a batched, per-request cached loader.
type Loader[K comparable, V any] = dataloadgen.Loader[K, V]

// ByKey builds a loader of single rows: fetch returns the rows found for a
// batch of keys (in any order), key tells each row's key.
func ByKey[K comparable, V any](fetch func(ctx context.Context, keys []K) ([]V, error), key func(V) K) *Loader[K, V] {
	return dataloadgen.NewMappedLoader(func(ctx context.Context, keys []K) (map[K]V, error) {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[K]V, len(rows))
		for _, r := range rows {
			out[key(r)] = r
		}
		return out, nil
	}, dataloadgen.WithWait(Wait))
}

// Grouped builds a loader of the rows that belong to each key (a
// practitioner's locations, say); a key with none gets an empty slice.
func Grouped[K comparable, V any](fetch func(ctx context.Context, keys []K) ([]V, error), key func(V) K) *Loader[K, []V] {
	return dataloadgen.NewLoader(func(ctx context.Context, keys []K) ([][]V, []error) {
		out := make([][]V, len(keys))
		errs := make([]error, len(keys))
		rows, err := fetch(ctx, keys)
		if err != nil {
			for i := range errs {
				errs[i] = err
			}
			return out, errs
		}
		idx := make(map[K][]V, len(keys))
		for _, r := range rows {
			k := key(r)
			idx[k] = append(idx[k], r)
		}
		for i, k := range keys {
			out[i] = idx[k]
			if out[i] == nil {
				out[i] = []V{}
			}
		}
		return out, errs
	}, dataloadgen.WithWait(Wait))
}

// IsNotFound reports a ByKey miss.
func IsNotFound(err error) bool { return errors.Is(err, dataloadgen.ErrNotFound) }

type ctxKey[T any] struct{}

// Attach stores a request's loader set in its context.
func Attach[T any](ctx context.Context, loaders *T) context.Context {
	return context.WithValue(ctx, ctxKey[T]{}, loaders)
}

// From returns the loader set attached to ctx (nil if none).
func From[T any](ctx context.Context) *T {
	l, _ := ctx.Value(ctxKey[T]{}).(*T)
	return l
}

// InOrder lays rows out in the order of keys, converted, with nil where a key
// has no row: the shape a federation batch entity resolver must return.
func InOrder[K comparable, V any, M any](keys []K, rows []V, key func(V) K, convert func(V) *M) []*M {
	byKey := make(map[K]V, len(rows))
	for _, r := range rows {
		byKey[key(r)] = r
	}
	out := make([]*M, len(keys))
	for i, k := range keys {
		if r, ok := byKey[k]; ok {
			out[i] = convert(r)
		}
	}
	return out
}

// BatchErrors turns per-representation errors into the form gqlgen reports
// against each _entities index (the others still resolve); nil when none.
func BatchErrors(perIndex []error) error {
	if perIndex == nil {
		return nil
	}
	return graphql.BatchErrorList(perIndex)
}

// Stubs answers an _entities batch of an entity the subgraph only extends:
// one model per representation, carrying its key; the fields the subgraph
// adds load (and authorise) themselves.
func Stubs[R, M any](reps []*R, stub func(*R) *M) []*M {
	out := make([]*M, len(reps))
	for i, rep := range reps {
		out[i] = stub(rep)
	}
	return out
}
