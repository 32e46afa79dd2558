package pagination

import (
	"encoding/base64"
	"testing"
	"time"
)

// FuzzParse: Parse refuses what Cursor did not make (ErrBadCursor, never a panic), and a cursor
// of what it accepts gives the same position back.
func FuzzParse(f *testing.F) {
	f.Add(Cursor(time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), "0190b6f0-0000-7000-8000-000000000000"))
	for _, s := range []string{"", "!!!", "AAAA", base64.RawURLEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|x")),
		base64.RawURLEncoding.EncodeToString([]byte("|0190b6f0-0000-7000-8000-000000000000")), base64.StdEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|0190b6f0-0000-7000-8000-000000000000"))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		at, id, err := Parse(c)
		if err != nil {
			if err != ErrBadCursor {
				t.Fatalf("%q: %v", c, err)
			}
			return
		}
		at2, id2, err := Parse(Cursor(at, id))
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("%q: (%s, %s) does not survive a round trip", c, at, id)
		}
	})
}
