package business

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzEmail: an accepted address is lower case, trimmed, at most 254 bytes, has one @ and a
// dotted domain, and normalising it again changes nothing.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"ana@example.org", " Ana.Silva+x@Example.ORG ", "a@b", "a@b.c", "@example.org", "a..b@example.org", ".a@example.org",
		"a@-example.org", "a@example..org", strings.Repeat("a", 65) + "@example.org", "ana@exam\x00ple.org", "ana@éxample.org", "\"a b\"@example.org", "a@b.c\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := email(s)
		if err != nil {
			return
		}
		again, err := email(v)
		if err != nil || again != v {
			t.Fatalf("%q → %q → %q, %v", s, v, again, err)
		}
		local, domain, ok := strings.Cut(v, "@")
		if !ok || strings.Contains(domain, "@") || !strings.Contains(domain, ".") || local == "" || len(v) > 254 || v != strings.ToLower(v) || strings.TrimSpace(v) != v {
			t.Fatalf("%q accepted as %q", s, v)
		}
	})
}

// FuzzPhone: an accepted number is E.164 (+, then 8 to 15 digits, not starting with 0), and
// normalising it again changes nothing.
func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+33 6 12 34 56 78", "+1 (555) 123-4567", "0612345678", "+0612345678", "+12", "+1234567890123456", "", "+33\u00a0612345678", "+٣٣٦١٢٣٤٥٦٧٨", "+33612345678\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := phone(s)
		if err != nil || v == "" {
			return
		}
		if again, err := phone(v); err != nil || again != v {
			t.Fatalf("%q → %q → %q, %v", s, v, again, err)
		}
		if len(v) < 9 || len(v) > 16 || v[0] != '+' || v[1] == '0' || strings.IndexFunc(v[1:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			t.Fatalf("%q accepted as %q", s, v)
		}
	})
}

// FuzzName: an accepted name is trimmed, valid UTF-8, 1 to 100 characters, no control characters.
func FuzzName(f *testing.F) {
	for _, s := range []string{"Ana", "  Ana  ", "", " ", "Zoë-Åsa O'Brien", "a\x00b", "\xff", strings.Repeat("é", 101), "Robert'); DROP TABLE patients;--", "\u202eevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := name("firstName", s)
		if err != nil {
			return
		}
		if v == "" || v != strings.TrimSpace(v) || !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxNameLength || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			t.Fatalf("%q accepted as %q", s, v)
		}
	})
}

// FuzzLocale: an accepted locale is ll-CC (or lll-CC), canonical, and stays so.
func FuzzLocale(f *testing.F) {
	for _, s := range []string{"fr-FR", "fr_fr", "FR-fr", "pt-BR", "fra-FR", "fr", "fr-FRA", "", "fr-F\u0130"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := locale(s)
		if err != nil {
			return
		}
		if again, err := locale(v); err != nil || again != v {
			t.Fatalf("%q → %q → %q", s, v, again)
		}
		lang, region, ok := strings.Cut(v, "-")
		if !ok || len(region) != 2 || len(lang) < 2 || len(lang) > 3 || lang != strings.ToLower(lang) || region != strings.ToUpper(region) {
			t.Fatalf("%q accepted as %q", s, v)
		}
	})
}
