package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A listing returns every open start of up to 62 days (four weeks of a busy
// practitioner: over a thousand slots, 170 kB). gqlgen's executor resolves
// each field of each slot on its own (a field context, a context, a deferred
// group and a field set each: about 80 allocations per slot, most of the
// listing's CPU; bench/profiles/slots-*). Slot therefore writes itself: gqlgen
// binds a type with MarshalGQLContext as a marshaler, and this one honours the
// operation's selection (fragments, @skip/@include, aliases, __typename, and
// location's own selection) as the generated code did, in one pass.

// MarshalGQLContext writes the slot's selected fields.
func (s Slot) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	sel, err := selection(ctx)
	if err != nil {
		return err
	}
	oc := graphql.GetOperationContext(ctx)
	buf := make([]byte, 0, 160)
	buf = append(buf, '{')
	for i, f := range graphql.CollectFields(oc, sel, slotImplementors) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendKey(buf, f.Alias)
		switch f.Name {
		case "__typename":
			buf = append(buf, `"Slot"`...)
		case "startsAt":
			buf = appendTime(buf, s.StartsAt)
		case "endsAt":
			buf = appendTime(buf, s.EndsAt)
		case "location":
			if s.Location == nil {
				return errors.New("slot without a location")
			}
			buf = s.Location.appendSelected(oc, f.Selections, buf)
		default:
			return fmt.Errorf("Slot has no field %q", f.Name)
		}
	}
	buf = append(buf, '}')
	_, err = w.Write(buf)
	return err
}

// UnmarshalGQLContext refuses: Slot is an output type (gqlgen wants both halves of a marshaler).
func (s *Slot) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("Slot is an output type")
}

var (
	slotImplementors     = []string{"Slot"}
	locationImplementors = []string{"Location"}
)

func (l *Location) appendSelected(oc *graphql.OperationContext, sel ast.SelectionSet, buf []byte) []byte {
	buf = append(buf, '{')
	for i, f := range graphql.CollectFields(oc, sel, locationImplementors) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendKey(buf, f.Alias)
		switch f.Name {
		case "__typename":
			buf = append(buf, `"Location"`...)
		case "id":
			buf = appendString(buf, l.ID)
		default:
			// Location is a reference here (resolvable: false): the schema has no other field, and
			// validation refused any other name before execution.
			buf = append(buf, "null"...)
		}
	}
	return append(buf, '}')
}

// selection is the selection set of the list field the slot is an element of (availableSlots,
// SlotsUpdate.slots): the nearest enclosing field context that is a field, not a list index.
func selection(ctx context.Context) (ast.SelectionSet, error) {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil {
			return fc.Field.Selections, nil
		}
	}
	return nil, errors.New("slot marshalled outside a field")
}

// appendTime writes t as graphql.MarshalTime does (RFC 3339 with nanoseconds, quoted).
func appendTime(buf []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(buf, "null"...)
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

func appendKey(buf []byte, key string) []byte {
	buf = appendString(buf, key)
	return append(buf, ':')
}

// appendString writes s quoted and escaped as gqlgen writes strings (graphql.MarshalString).
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '\t':
			buf = append(buf, `\t`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\\':
			buf = append(buf, `\\`...)
		case '"':
			buf = append(buf, `\"`...)
		default:
			buf = append(buf, `\u00`...)
			buf = append(buf, hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
