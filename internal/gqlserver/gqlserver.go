// Package gqlserver builds a subgraph's GraphQL HTTP handler the same way for
// every service: transports (HTTP and graphql-transport-ws), limits, auth, and
// the one place where domain errors become extensions.code.
package gqlserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
)

// Options tune a subgraph server.
type Options struct {
	Logger *slog.Logger
	// Verifier checks bearer tokens; every subgraph checks them itself even
	// though the router does too.
	Verifier auth.Verifier
	// ComplexityLimit caps a query's cost (0: 2000).
	ComplexityLimit int
	// PerRequest wraps each request's context, e.g. to attach dataloaders.
	PerRequest func(ctx context.Context) context.Context
}

// New returns the subgraph's /graphql handler.
func New(es graphql.ExecutableSchema, opts Options) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		// Only the router connects to subgraphs; it may forward a browser's Origin.
		Implementation:        transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}},
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if _, ok := auth.FromContext(ctx); ok || opts.Verifier == nil {
				return ctx, &payload, nil
			}
			ctx, err := auth.FromConnectionInit(ctx, opts.Verifier, payload)
			return ctx, &payload, err
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(post{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(metrics{})
	srv.Use(operationSpans{})
	limit := opts.ComplexityLimit
	if limit == 0 {
		limit = 2000
	}
	srv.Use(extension.FixedComplexityLimit(limit))
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return Present(ctx, logger, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apperr.E(apperr.Internal, "internal error")
	})

	var h http.Handler = srv
	if opts.PerRequest != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(opts.PerRequest(r.Context())))
		})
	}
	if opts.Verifier != nil {
		h = auth.Middleware(opts.Verifier)(h)
	}
	// The client's address, for the domain limits counted per address.
	next := h
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(auth.WithClientAddr(r)))
	})
}

// Present maps an error to the GraphQL error a client sees: a domain error
// keeps its message and gets its code; anything else is logged and hidden
// behind INTERNAL so no internals leak.
func Present(ctx context.Context, logger *slog.Logger, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var existing *gqlerror.Error
	if errors.As(err, &existing) && existing.Extensions != nil {
		if _, has := existing.Extensions["code"]; has && existing.Err == nil {
			return gqlErr // validation and parse errors already carry a code
		}
	}
	if e, ok := apperr.As(err); ok {
		gqlErr.Message = e.Message
		if e.Field != "" {
			gqlErr.Message = e.Field + ": " + e.Message
		}
		ext := make(map[string]any, len(e.Extensions)+3)
		for k, v := range e.Extensions {
			ext[k] = v
		}
		ext["code"] = string(e.Code)
		if e.Field != "" {
			ext["field"] = e.Field
		}
		if e.Reason != "" {
			ext["reason"] = e.Reason
		}
		gqlErr.Extensions = ext
		return gqlErr
	}
	if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil && !errors.As(err, new(*apperr.Error)) && gqlErr.Err == nil {
		return gqlErr
	}
	if field, ok := inputField(ctx, gqlErr.Path); ok {
		// A value the schema's scalars refused (a malformed date, time or instant): the client's
		// mistake, not ours.
		msg := err.Error()
		if gqlErr.Err != nil {
			msg = gqlErr.Err.Error()
		}
		gqlErr.Message = field + ": " + msg
		gqlErr.Extensions = map[string]any{"code": string(apperr.InvalidInput), "field": field}
		return gqlErr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		gqlErr.Message = "request cancelled or timed out"
		gqlErr.Extensions = map[string]any{"code": "TIMEOUT"}
		return gqlErr
	}
	logger.ErrorContext(ctx, "internal error", "err", err.Error(), "path", gqlErr.Path.String())
	gqlErr.Message = "internal error"
	gqlErr.Extensions = map[string]any{"code": string(apperr.Internal)}
	return gqlErr
}

// inputField tells whether path (an error's) points into an argument of the field being resolved
// — an input value that could not be read — and names the input field as domain errors do
// ("startsAt", "rules[0].startTime"; the argument's own name when it is not "input").
func inputField(ctx context.Context, path ast.Path) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return "", false
	}
	at := fc.Path()
	if len(path) <= len(at) || path[:len(at)].String() != at.String() {
		return "", false
	}
	arg, ok := path[len(at)].(ast.PathName)
	if !ok || fc.Field.Arguments.ForName(string(arg)) == nil {
		return "", false
	}
	rest := path[len(at)+1:]
	if arg != "input" || len(rest) == 0 {
		rest = path[len(at):]
	}
	return rest.String(), true
}
