// Package pagination encodes the keyset cursors of the lists services page
// through by (time, id): opaque to clients, stable under inserts.
package pagination

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/uid"
)

// ErrBadCursor is returned for a cursor this package did not make.
var ErrBadCursor = errors.New("pagination: not a cursor of this list")

// Cursor encodes the position after a row sorted by (at, id).
func Cursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

// Parse decodes a cursor made by Cursor.
func Parse(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || !uid.Valid(id) {
		return time.Time{}, "", ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return t, id, nil
}
