package pagination

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 123, time.FixedZone("x", 3600))
	id := "01a214d5-d5e5-7299-8d6c-2662a860dc9c"
	gotAt, gotID, err := Parse(Cursor(at, id))
	if err != nil || !gotAt.Equal(at) || gotID != id {
		t.Fatalf("round trip: %v %v %v", gotAt, gotID, err)
	}
	for _, bad := range []string{"", "!!", Cursor(at, "not-an-id")[:10], "MjAyNnwx"} {
		if _, _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
