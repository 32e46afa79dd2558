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

// A listing returns every open start of up to 62 days (four weeks of a busy
// practitioner: over a thousand slots, 170 kB). gqlgen's executor marshals a
// list of objects with a goroutine, a context and a field context per element,
// and resolves each field of each slot on its own: most of the listing's CPU
// (bench/profiles/slots-*). A listing is therefore a Slots, which writes
// itself: gqlgen binds a type with MarshalGQLContext as a marshaler (ADR 0030),
// and this one honours the operation's selection (fragments, @skip/@include,
// aliases, __typename, and location's own selection) as the generated code
// did, in one pass.

// Slots is a listing (availableSlots, SlotsUpdate.slots). It writes itself in
// one pass: the selection is collected once and every slot is appended to one
// buffer.
type Slots []Slot

// MarshalGQLContext writes the slots' selected fields.
func (ss Slots) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	sel, err := gqlwrite.Selection(ctx)
	if err != nil {
		return err
	}
	fields := collectSlotFields(graphql.GetOperationContext(ctx), sel)
	return gqlwrite.List(w, len(ss), 112, func(buf []byte, i int) ([]byte, error) {
		return ss[i].appendSelected(buf, fields)
	})
}

// UnmarshalGQLContext refuses: Slots is an output type.
func (ss *Slots) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("Slots is an output type")
}

// slotField is a selected field of Slot, with the fields selected in its
// location when it is one: collected once for a whole listing.
type slotField struct {
	graphql.CollectedField
	location []graphql.CollectedField
}

func collectSlotFields(oc *graphql.OperationContext, sel ast.SelectionSet) []slotField {
	collected := graphql.CollectFields(oc, sel, slotImplementors)
	out := make([]slotField, len(collected))
	for i, f := range collected {
		out[i].CollectedField = f
		if f.Name == "location" {
			out[i].location = graphql.CollectFields(oc, f.Selections, locationImplementors)
		}
	}
	return out
}

func (s Slot) appendSelected(buf []byte, fields []slotField) ([]byte, error) {
	buf = append(buf, '{')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = gqlwrite.Key(buf, f.Alias)
		switch f.Name {
		case "__typename":
			buf = append(buf, `"Slot"`...)
		case "startsAt":
			buf = gqlwrite.Time(buf, s.StartsAt)
		case "endsAt":
			buf = gqlwrite.Time(buf, s.EndsAt)
		case "location":
			if s.LocationID == "" {
				return nil, errors.New("slot without a location")
			}
			buf = appendLocation(buf, f.location, s.LocationID)
		default:
			return nil, fmt.Errorf("Slot has no field %q", f.Name)
		}
	}
	return append(buf, '}'), nil
}

var (
	slotImplementors     = []string{"Slot"}
	locationImplementors = []string{"Location"}
)

// appendLocation writes the selected fields of the location reference id.
func appendLocation(buf []byte, fields []graphql.CollectedField, id string) []byte {
	buf = append(buf, '{')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = gqlwrite.Key(buf, f.Alias)
		switch f.Name {
		case "__typename":
			buf = append(buf, `"Location"`...)
		case "id":
			buf = gqlwrite.String(buf, id)
		default:
			// Location is a reference here (resolvable: false): the schema has no other field, and
			// validation refused any other name before execution.
			buf = append(buf, "null"...)
		}
	}
	return append(buf, '}')
}
