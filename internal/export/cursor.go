package export

import (
	"strings"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/uid"
)

// KeyCursor is the cursor of an export in (country, id) key order, the order
// every country-partitioned table is read in: the last row's key.
func KeyCursor(country, id string) string { return country + "/" + id }

// ParseKeyCursor reads a KeyCursor; "" is the start ("", "").
func ParseKeyCursor(after string) (country, id string, err error) {
	if after == "" {
		return "", "", nil
	}
	country, id, ok := strings.Cut(after, "/")
	if !ok || country == "" || !uid.Valid(id) {
		return "", "", apperr.E(apperr.InvalidInput, "malformed export cursor")
	}
	return country, id, nil
}
