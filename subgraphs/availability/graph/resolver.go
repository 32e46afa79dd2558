// Package graph is the availability subgraph's GraphQL edge: gqlgen's
// generated executor plus thin resolvers that batch their reads through
// per-request loaders into the business layer.
package graph

import (
	"context"
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
// practitioners costs one Redis round trip per field.
type Loaders struct {
	Slots *dataloadgen.Loader[business.SlotsQuery, []slots.Slot]
	Next  *dataloadgen.Loader[string, *time.Time]
}

// WithLoaders attaches a fresh loader set to a request's context.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	s := r.Service
	return dataloaders.Attach(ctx, &Loaders{
		Slots: dataloadgen.NewLoader(func(ctx context.Context, qs []business.SlotsQuery) ([][]slots.Slot, []error) {
			return s.ListSlots(ctx, qs)
		}, dataloadgen.WithWait(dataloaders.Wait)),
		Next: dataloadgen.NewLoader(func(ctx context.Context, pids []string) ([]*time.Time, []error) {
			out, err := s.NextSlots(ctx, pids)
			if err != nil {
				return make([]*time.Time, len(pids)), repeat(err, len(pids))
			}
			return out, nil
		}, dataloadgen.WithWait(dataloaders.Wait)),
	})
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func loaders(ctx context.Context) *Loaders { return dataloaders.From[Loaders](ctx) }
