// Package uid makes and checks the ids every service uses: UUIDv7 (time
// ordered, so index inserts stay local), in their canonical 36-character form.
package uid

import "github.com/google/uuid"

// New returns a fresh id.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid reports whether s is a well-formed id.
func Valid(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// Filter keeps the well-formed ids (a store query can then cast to uuid[]
// without failing on a malformed one).
func Filter(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if Valid(id) {
			out = append(out, id)
		}
	}
	return out
}
