package uid

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzValid: a valid id is a canonical 36-character UUID, so it is safe to cast in SQL.
func FuzzValid(f *testing.F) {
	for _, s := range []string{New(), "", "0190b6f0-0000-7000-8000-000000000000", "{0190b6f0-0000-7000-8000-000000000000}",
		"urn:uuid:0190b6f0-0000-7000-8000-000000000000", "0190b6f000007000800000000000000", "' OR 1=1 --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		u, err := uuid.Parse(s)
		if err != nil || !strings.EqualFold(u.String(), s) {
			t.Fatalf("%q is valid but not canonical", s)
		}
	})
}
