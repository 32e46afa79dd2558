package business

import (
	"testing"
	"time"
)

// FuzzValidateRange: an accepted listing range is two real dates, in order, at most
// MaxRangeDays days.
func FuzzValidateRange(f *testing.F) {
	for _, c := range [][2]string{{"2026-03-29", "2026-04-04"}, {"2026-03-29", "2026-03-28"}, {"2026-02-30", "2026-03-01"}, {"0000-01-01", "9999-12-31"}, {"", ""}, {"2026-03-29", "2026-03-29T00:00:00Z"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		if ValidateRange(from, to) != nil {
			return
		}
		f, err1 := time.Parse(time.DateOnly, from)
		l, err2 := time.Parse(time.DateOnly, to)
		if err1 != nil || err2 != nil || l.Before(f) || int(l.Sub(f).Hours()/24)+1 > MaxRangeDays {
			t.Fatalf("accepted %q..%q", from, to)
		}
	})
}
