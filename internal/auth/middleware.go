package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/careslot/careslot/internal/apperr"
)

// Middleware authenticates the Authorization: Bearer header. No header means
// an anonymous request (public fields: search, profiles, slots) and passes
// through; a header that does not verify is rejected with HTTP 401 and a
// GraphQL-shaped UNAUTHENTICATED error, rather than silently downgraded to
// anonymous. WebSocket upgrade requests are handled the same way.
func Middleware(v Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			header := r.Header.Get("Authorization")
			if header == "" {
				next.ServeHTTP(w, r)
				return
			}
			p, err := verifyHeader(r.Context(), v, header)
			if err != nil {
				writeUnauthenticated(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// FromConnectionInit authenticates a graphql-ws connection_init payload, for
// gqlgen's websocket InitFunc. A payload without an Authorization (or
// authorization) key leaves ctx as it is, so a principal set by Middleware
// from the upgrade request's header survives.
func FromConnectionInit(ctx context.Context, v Verifier, payload map[string]any) (context.Context, error) {
	raw, ok := payload["Authorization"]
	if !ok {
		raw, ok = payload["authorization"]
	}
	if !ok || raw == nil || raw == "" {
		return ctx, nil
	}
	header, ok := raw.(string)
	if !ok {
		return ctx, apperr.E(apperr.Unauthenticated, "authorization must be a string")
	}
	// Clients commonly send the bare token here; accept both forms.
	if _, _, hasScheme := strings.Cut(header, " "); !hasScheme {
		header = "Bearer " + header
	}
	p, err := verifyHeader(ctx, v, header)
	if err != nil {
		return ctx, err
	}
	return WithPrincipal(ctx, p), nil
}

func verifyHeader(ctx context.Context, v Verifier, header string) (Principal, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, apperr.E(apperr.Unauthenticated, "authorization must be a bearer token")
	}
	return v.Verify(ctx, token)
}

func writeUnauthenticated(w http.ResponseWriter, err error) {
	msg := "invalid token"
	if e, ok := apperr.As(err); ok && e.Message != "" {
		msg = e.Message
	}
	type extensions struct {
		Code apperr.Code `json:"code"`
	}
	type gqlError struct {
		Message    string     `json:"message"`
		Extensions extensions `json:"extensions"`
	}
	body, _ := json.Marshal(struct {
		Errors []gqlError `json:"errors"`
	}{[]gqlError{{Message: msg, Extensions: extensions{Code: apperr.Unauthenticated}}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(body)
}
