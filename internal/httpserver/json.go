package httpserver

import (
	"encoding/json"
	"net/http"

	"github.com/careslot/careslot/internal/apperr"
)

// WriteJSON answers an internal JSON endpoint; private data is never cached.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers an internal JSON endpoint with a domain error:
// {"error":{"code","message"}} and the matching HTTP status. Untyped errors
// are answered as INTERNAL without their text.
func WriteError(w http.ResponseWriter, err error) {
	code, msg := apperr.CodeOf(err), "internal error"
	if e, ok := apperr.As(err); ok {
		msg = e.Message
	}
	status := http.StatusInternalServerError
	switch code {
	case apperr.Unauthenticated:
		status = http.StatusUnauthorized
	case apperr.Forbidden:
		status = http.StatusForbidden
	case apperr.NotFound:
		status = http.StatusNotFound
	case apperr.InvalidInput:
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": string(code), "message": msg}})
}
