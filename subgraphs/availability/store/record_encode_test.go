package store

import (
	"testing"
	"time"
)

// BenchmarkEncodeRecord encodes a window's record (28 days of a practice's
// bitmaps), as a rebuild does once per practitioner.
func BenchmarkEncodeRecord(b *testing.B) {
	r := &Record{Country: "fr", Next: time.Now(), Terms: make([]byte, 600), Days: map[string][]byte{}}
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := range 28 {
		bits := make([]byte, 12)
		bits[4], bits[7] = 0xff, 0x0f
		r.Days[day.AddDate(0, 0, i).Format(time.DateOnly)] = bits
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeRecord(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDayNumberAgreesWithTime checks the hand-read dates against the time
// package over three centuries, and that malformed ones are refused.
func TestDayNumberAgreesWithTime(t *testing.T) {
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 1) {
		want := int(d.Sub(epoch) / (24 * time.Hour))
		got, err := dayNumber(d.Format(time.DateOnly))
		if err != nil || got != want {
			t.Fatalf("%s: %d, %v; want %d", d.Format(time.DateOnly), got, err, want)
		}
	}
	for _, bad := range []string{"", "2026-02-29", "2028-02-30", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01", "2026/01/01", "20a6-01-01", "2026-01-01T"} {
		if _, err := dayNumber(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
