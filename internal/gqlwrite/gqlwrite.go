// Package gqlwrite appends GraphQL response values to a byte slice exactly as
// gqlgen's marshalers write them. A list that writes itself in one pass
// (availability's slot listing, search's page of results) uses it instead of
// gqlgen's executor, which marshals a list of objects with a goroutine, a
// context and a field context per element and resolves each field on its own.
package gqlwrite

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Selection is the selection set of the field being marshalled.
func Selection(ctx context.Context) (ast.SelectionSet, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil {
		return fc.Field.Selections, nil
	}
	return nil, errors.New("gqlwrite: marshalled outside a field")
}

// List writes n elements to w as one JSON array, built in one buffer
// (sizeHint bytes an element); elem appends element i.
func List(w io.Writer, n, sizeHint int, elem func(buf []byte, i int) ([]byte, error)) error {
	buf, err := Array(make([]byte, 0, 2+n*sizeHint), n, elem)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// Array appends n elements as a JSON array; elem appends element i.
func Array(buf []byte, n int, elem func(buf []byte, i int) ([]byte, error)) ([]byte, error) {
	buf = append(buf, '[')
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = elem(buf, i); err != nil {
			return nil, err
		}
	}
	return append(buf, ']'), nil
}

// Key writes an object key and its colon.
func Key(buf []byte, key string) []byte {
	buf = String(buf, key)
	return append(buf, ':')
}

// Time writes t as graphql.MarshalTime does (RFC 3339 with nanoseconds,
// quoted; null for the zero time).
func Time(buf []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(buf, "null"...)
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

// Float writes f as graphql.MarshalFloatContext does (%g), refusing what
// JSON cannot hold as it does.
func Float(buf []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return buf, errors.New("cannot marshal infinite no NaN float values")
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64), nil
}

// Bool writes b.
func Bool(buf []byte, b bool) []byte { return strconv.AppendBool(buf, b) }

// String writes s quoted and escaped as gqlgen writes strings
// (graphql.MarshalString).
func String(buf []byte, s string) []byte {
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
