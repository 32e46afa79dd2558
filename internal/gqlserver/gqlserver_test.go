package gqlserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careslot/careslot/internal/apperr"
)

// TestPresentInputErrors: a value an input scalar refused is the client's INVALID_INPUT, named
// by its input field; an error elsewhere stays INTERNAL and says nothing.
func TestPresentInputErrors(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fc := &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{
		Alias: "holdSlot", Name: "holdSlot", Arguments: ast.ArgumentList{{Name: "input"}},
	}}}
	ctx := graphql.WithFieldContext(graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil), fc)
	for _, c := range []struct {
		path  ast.Path
		code  string
		field string
	}{
		{ast.Path{ast.PathName("holdSlot"), ast.PathName("input"), ast.PathName("startsAt")}, string(apperr.InvalidInput), "startsAt"},
		{ast.Path{ast.PathName("holdSlot"), ast.PathName("input"), ast.PathName("rules"), ast.PathIndex(0), ast.PathName("startTime")}, string(apperr.InvalidInput), "rules[0].startTime"},
		{ast.Path{ast.PathName("holdSlot")}, string(apperr.Internal), ""},
		{ast.Path{ast.PathName("holdSlot"), ast.PathName("hold"), ast.PathName("id")}, string(apperr.Internal), ""},
	} {
		err := &gqlerror.Error{Err: errors.New("time should be RFC3339Nano formatted string"), Path: c.path}
		got := Present(ctx, quiet, err)
		if got.Extensions["code"] != c.code || (c.field != "" && got.Extensions["field"] != c.field) {
			t.Errorf("%s: %+v", c.path, got)
		}
		if c.code == string(apperr.Internal) && got.Message != "internal error" {
			t.Errorf("%s: an internal error says %q", c.path, got.Message)
		}
	}
}

// TestPresentExtensions: a domain error's extensions reach the client beside its code and
// reason, and never replace them.
func TestPresentExtensions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil)
	err := &apperr.Error{Code: apperr.BookingRestricted, Reason: "NO_SHOWS", Message: "restricted",
		Extensions: map[string]any{"until": "2030-09-01T00:00:00Z", "code": "FORGED"}}
	got := Present(ctx, quiet, err)
	if got.Extensions["code"] != string(apperr.BookingRestricted) || got.Extensions["reason"] != "NO_SHOWS" ||
		got.Extensions["until"] != "2030-09-01T00:00:00Z" {
		t.Fatalf("extensions %+v", got.Extensions)
	}
}
