package countries

import (
	"os"
	"testing"
)

// FuzzParse: a catalogue document is refused with an error or gives countries whose codes are
// two lower-case letters, each listed once, each with a zone that loads; never a panic.
func FuzzParse(f *testing.F) {
	if raw, err := os.ReadFile("countries.yaml"); err == nil {
		f.Add(raw)
	}
	for _, s := range []string{"", "countries: []", "countries: [{code: FR}]", "countries: [{code: xx, timeZone: Local}]",
		"countries: [{code: xx, timeZone: UTC, regulatory: {registrationNumberPattern: '('}}]", "countries: [{code: xx, timeZone: UTC}, {code: xx, timeZone: UTC}]",
		"countries: &a [*a]", "countries:\n  - code: xx\n    timeZone: UTC\n    specialties: [{code: a}, {code: a}]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		cat, err := Parse(doc)
		if err != nil {
			return
		}
		for _, code := range cat.Codes() {
			c, ok := cat.Get(code)
			if !ok || !codeRE.MatchString(c.Code) || c.Location() == nil {
				t.Fatalf("accepted country %+v", c)
			}
		}
	})
}

// FuzzRegistrationNumber: the committed catalogue's patterns answer any input, and what they
// accept in France is eleven digits (RPPS).
func FuzzRegistrationNumber(f *testing.F) {
	cat, err := Load("")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"10101010101", "1010101010", "1010101010a", "", "١٠١٠١٠١٠١٠١", "10101010101\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, code := range cat.Codes() {
			c, _ := cat.Get(code)
			ok := c.ValidRegistrationNumber(s)
			if code == "fr" && ok && (len(s) != 11 || !allDigits(s)) {
				t.Fatalf("%q accepted as an RPPS", s)
			}
		}
	})
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
