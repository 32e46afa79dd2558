// Package graph is the practitioner subgraph's GraphQL edge: gqlgen's
// generated executor plus thin resolvers that map inputs to the business layer
// and its results to models.
package graph

import (
	"context"

	"github.com/careslot/careslot/dataloaders"
	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/graph/model"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
}

// Loaders are the per-request batch loaders of this subgraph.
type Loaders struct {
	Practitioners    *dataloaders.Loader[string, business.Practitioner]
	Locations        *dataloaders.Loader[string, []business.Location]
	AppointmentTypes *dataloaders.Loader[string, []business.AppointmentType]
	OpeningHours     *dataloaders.Loader[string, []business.OpeningHours]
	// Absences loads the absences that have not ended; readers authorise first.
	Absences *dataloaders.Loader[string, []business.Absence]
}

// WithLoaders attaches a fresh loader set to a request's context.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	s := r.Service
	return dataloaders.Attach(ctx, &Loaders{
		Practitioners:    dataloaders.ByKey(s.PractitionersByIDs, func(p business.Practitioner) string { return p.ID }),
		Locations:        dataloaders.Grouped(s.LocationsByPractitioners, func(l business.Location) string { return l.PractitionerID }),
		AppointmentTypes: dataloaders.Grouped(s.TypesByPractitioners, func(a business.AppointmentType) string { return a.PractitionerID }),
		OpeningHours:     dataloaders.Grouped(s.OpeningHoursByPractitioners, func(h business.OpeningHours) string { return h.PractitionerID }),
		Absences: dataloaders.Grouped(func(ctx context.Context, ids []string) ([]business.Absence, error) {
			return s.AbsencesByPractitioners(ctx, ids, false)
		}, func(a business.Absence) string { return a.PractitionerID }),
	})
}

func loaders(ctx context.Context) *Loaders { return dataloaders.From[Loaders](ctx) }

// loadPractitioner reads one practitioner through the request's loader.
func (r *Resolver) loadPractitioner(ctx context.Context, id string) (*model.Practitioner, error) {
	if !uid.Valid(id) {
		return nil, apperr.NotFoundf("practitioner %q not found", id)
	}
	p, err := loaders(ctx).Practitioners.Load(ctx, id)
	if dataloaders.IsNotFound(err) {
		return nil, apperr.NotFoundf("practitioner %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	return r.practitioner(p), nil
}
