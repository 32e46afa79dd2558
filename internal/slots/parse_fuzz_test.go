package slots

import (
	"fmt"
	"testing"
	"time"
)

// FuzzParseWallClock: opening-hour times are H:MM or HH:MM from 00:00 to 24:00, nothing else,
// and print back as what they mean.
func FuzzParseWallClock(f *testing.F) {
	for _, s := range []string{"09:00", "9:00", "24:00", "24:01", "00:00", "12:60", "+1:00", "-0:00", "1:5", "123:00", "", ":", "٠٩:٠٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseWallClock(s)
		if err != nil {
			return
		}
		if m < 0 || m > 24*60 {
			t.Fatalf("%q: %d minutes", s, m)
		}
		canon := fmt.Sprintf("%02d:%02d", m/60, m%60)
		if s != canon && "0"+s != canon {
			t.Fatalf("%q read as %s", s, canon)
		}
	})
}

// FuzzLoadZone: only real IANA zones load, the same pointer every time, and a local day in them
// has 23, 24 or 25 hours (or thereabouts for historic offsets), never a panic.
func FuzzLoadZone(f *testing.F) {
	for _, s := range []string{"Europe/Paris", "America/Sao_Paulo", "Pacific/Apia", "UTC", "Local", "", "Europe/../../etc/passwd", "/etc/localtime", "Etc/GMT+14", "Europe/Paris\x00", "europe/paris"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		z, ok := LoadZone(name)
		if !ok {
			return
		}
		again, _ := LoadZone(name)
		if z == nil || again != z {
			t.Fatalf("%q: not one location", name)
		}
		d, err := NewDay("2026-03-29", z)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if h := d.End().Sub(d.Start); h < 20*time.Hour || h > 28*time.Hour {
			t.Fatalf("%q: a day of %s", name, h)
		}
	})
}
