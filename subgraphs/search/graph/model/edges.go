package model

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/careslot/careslot/internal/gqlwrite"
)

// A search page is up to 100 edges, each with a location and a practitioner,
// about twenty fields in all. gqlgen's executor marshals a list of objects
// with a goroutine, a context and a field context per element, and resolves
// every field of every nested object on its own: half of a search's CPU
// straight at the subgraph (bench/profiles/search-2-page-writes-itself.txt).
// A page's edges are therefore SearchEdges, which write themselves in one
// pass, as a slot listing does (ADR 0030, 0037). Every field of these types
// is a plain value of the index document: nothing here resolves.

// PractitionerSearchConnection is a page of search results.
type PractitionerSearchConnection struct {
	// All matches, across pages.
	TotalCount int         `json:"totalCount"`
	PageInfo   *PageInfo   `json:"pageInfo"`
	Edges      SearchEdges `json:"edges"`
}

// SearchEdges is a page's results (PractitionerSearchConnection.edges).
type SearchEdges []PractitionerSearchEdge

// MarshalGQLContext writes the edges' selected fields, honouring the
// operation's selection (fragments, @skip/@include, aliases, __typename) as
// the generated code did.
func (es SearchEdges) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	sel, err := gqlwrite.Selection(ctx)
	if err != nil {
		return err
	}
	fields := collect(graphql.GetOperationContext(ctx), sel, "PractitionerSearchEdge")
	return gqlwrite.List(w, len(es), 512, func(buf []byte, i int) ([]byte, error) {
		return es[i].appendSelected(buf, fields)
	})
}

// UnmarshalGQLContext refuses: SearchEdges is an output type.
func (es *SearchEdges) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("SearchEdges is an output type")
}

// field is a selected field, with the fields selected in it when it is an
// object: collected once for a whole page.
type field struct {
	alias, name string
	sub         []field
}

// implementors are the types a fragment may name to apply to an object of
// each type (an entity is also an _Entity), as in the generated code.
var implementors = map[string][]string{
	"PractitionerSearchEdge": {"PractitionerSearchEdge"},
	"Location":               {"Location", "_Entity"},
	"Practitioner":           {"Practitioner", "_Entity"},
	"Coordinates":            {"Coordinates"},
	"Specialty":              {"Specialty"},
}

// objectFields are the fields whose values are objects, by "Type.field":
// the object's type.
var objectFields = map[string]string{
	"PractitionerSearchEdge.location":     "Location",
	"PractitionerSearchEdge.practitioner": "Practitioner",
	"Location.coordinates":                "Coordinates",
	"Practitioner.specialties":            "Specialty",
}

func collect(oc *graphql.OperationContext, sel ast.SelectionSet, typ string) []field {
	collected := graphql.CollectFields(oc, sel, implementors[typ])
	out := make([]field, len(collected))
	for i, f := range collected {
		out[i] = field{alias: f.Alias, name: f.Name}
		if sub, ok := objectFields[typ+"."+f.Name]; ok {
			out[i].sub = collect(oc, f.Selections, sub)
		}
	}
	return out
}

// object writes {…} with each field's key and what value writes for it.
func object(buf []byte, typ string, fields []field, value func([]byte, field) ([]byte, error)) ([]byte, error) {
	buf = append(buf, '{')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = gqlwrite.Key(buf, f.alias)
		if f.name == "__typename" {
			buf = gqlwrite.String(buf, typ)
			continue
		}
		var err error
		if buf, err = value(buf, f); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

func noField(typ string, f field) error { return fmt.Errorf("%s has no field %q", typ, f.name) }

func (e *PractitionerSearchEdge) appendSelected(buf []byte, fields []field) ([]byte, error) {
	return object(buf, "PractitionerSearchEdge", fields, func(buf []byte, f field) ([]byte, error) {
		switch f.name {
		case "cursor":
			return gqlwrite.String(buf, e.Cursor), nil
		case "distanceKm":
			if e.DistanceKm == nil {
				return append(buf, "null"...), nil
			}
			return gqlwrite.Float(buf, *e.DistanceKm)
		case "nextAvailableSlot":
			if e.NextAvailableSlot == nil {
				return append(buf, "null"...), nil
			}
			return gqlwrite.Time(buf, *e.NextAvailableSlot), nil
		case "location":
			if e.Location == nil {
				return nil, errors.New("search result without a location")
			}
			return e.Location.appendSelected(buf, f.sub)
		case "practitioner":
			if e.Practitioner == nil {
				return nil, errors.New("search result without a practitioner")
			}
			return e.Practitioner.appendSelected(buf, f.sub)
		}
		return nil, noField("PractitionerSearchEdge", f)
	})
}

func (l *Location) appendSelected(buf []byte, fields []field) ([]byte, error) {
	return object(buf, "Location", fields, func(buf []byte, f field) ([]byte, error) {
		switch f.name {
		case "id":
			return gqlwrite.String(buf, l.ID), nil
		case "name":
			return gqlwrite.String(buf, l.Name), nil
		case "city":
			return gqlwrite.String(buf, l.City), nil
		case "coordinates":
			if l.Coordinates == nil {
				return nil, errors.New("location without coordinates")
			}
			c := l.Coordinates
			return object(buf, "Coordinates", f.sub, func(buf []byte, f field) ([]byte, error) {
				switch f.name {
				case "lat":
					return gqlwrite.Float(buf, c.Lat)
				case "lon":
					return gqlwrite.Float(buf, c.Lon)
				}
				return nil, noField("Coordinates", f)
			})
		}
		return nil, noField("Location", f)
	})
}

func (p *Practitioner) appendSelected(buf []byte, fields []field) ([]byte, error) {
	return object(buf, "Practitioner", fields, func(buf []byte, f field) ([]byte, error) {
		switch f.name {
		case "id":
			return gqlwrite.String(buf, p.ID), nil
		case "displayName":
			return gqlwrite.String(buf, p.DisplayName), nil
		case "specialties":
			return gqlwrite.Array(buf, len(p.Specialties), func(buf []byte, i int) ([]byte, error) {
				s := p.Specialties[i]
				return object(buf, "Specialty", f.sub, func(buf []byte, f field) ([]byte, error) {
					switch f.name {
					case "code":
						return gqlwrite.String(buf, s.Code), nil
					case "label":
						return gqlwrite.String(buf, s.Label), nil
					}
					return nil, noField("Specialty", f)
				})
			})
		case "languages":
			return gqlwrite.Array(buf, len(p.Languages), func(buf []byte, i int) ([]byte, error) {
				return gqlwrite.String(buf, p.Languages[i]), nil
			})
		case "acceptsNewPatients":
			return gqlwrite.Bool(buf, p.AcceptsNewPatients), nil
		case "rating":
			if p.Rating == nil {
				return append(buf, "null"...), nil
			}
			return gqlwrite.Float(buf, *p.Rating)
		}
		return nil, noField("Practitioner", f)
	})
}
