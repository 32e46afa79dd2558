// Package graph is the availability subgraph's GraphQL edge: gqlgen's
// generated executor plus thin resolvers that batch their reads through
// per-request loaders into the business layer.
package graph

import (
	"context"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/careslot/careslot/dataloaders"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/business"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
}

// Loaders are the per-request batch loaders of this subgraph: a page of
// practitioners costs one Redis round trip per field. They are made by the
// entity resolver, which knows the page size: a batch is sent as soon as
// every practitioner of the page asked (or after dataloaders.Wait).
type Loaders struct {
	once  sync.Once
	slots *dataloadgen.Loader[business.SlotsQuery, []slots.Slot]
	next  *dataloadgen.Loader[string, *time.Time]
}

// WithLoaders attaches an empty loader set to a request's context.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	return dataloaders.Attach(ctx, &Loaders{})
}

// init makes the loaders for pages of n practitioners (0: unbounded).
func (l *Loaders) init(s *business.Service, n int) {
	l.once.Do(func() {
		opts := []dataloadgen.Option{dataloadgen.WithWait(dataloaders.Wait)}
		if n > 0 {
			opts = append(opts, dataloadgen.WithBatchCapacity(n))
		}
		l.slots = dataloadgen.NewLoader(func(ctx context.Context, qs []business.SlotsQuery) ([][]slots.Slot, []error) {
			return s.ListSlots(ctx, qs)
		}, opts...)
		l.next = dataloadgen.NewLoader(func(ctx context.Context, pids []string) ([]*time.Time, []error) {
			out, err := s.NextSlots(ctx, pids)
			if err != nil {
				return make([]*time.Time, len(pids)), repeat(err, len(pids))
			}
			return out, nil
		}, opts...)
	})
}

func (r *Resolver) loaders(ctx context.Context) *Loaders {
	l := dataloaders.From[Loaders](ctx)
	if l == nil { // no per-request set (a schema used without the handler)
		l = &Loaders{}
	}
	l.init(r.Service, 0)
	return l
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
