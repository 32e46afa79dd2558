package business_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/subgraphs/notification/business"
)

func TestICS(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 10, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	long := strings.Repeat("Généraliste, ", 10) + "fin"
	got := string(business.ICS(business.Event{
		UID: "0190b6f4-0000-7000-8000-000000000001@careslot", Sequence: 2,
		Stamp: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Start: start, End: start.Add(30 * time.Minute),
		Summary: "Dr Dubois; consultation", Location: "Cabinet, 12 rue de Rivoli\\Paris", Description: "line 1\nline 2 " + long,
	}))

	if !strings.HasSuffix(got, "END:VCALENDAR\r\n") || strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
		t.Fatalf("lines must end in CRLF:\n%q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
	for _, l := range lines {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets (%d): %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("a fold split a character: %q", l)
		}
	}
	// Unfold (RFC 5545 §3.1) and check the properties.
	unfolded := strings.ReplaceAll(got, "\r\n ", "")
	want := []string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Careslot//Appointments//EN", "METHOD:PUBLISH", "BEGIN:VEVENT",
		"UID:0190b6f4-0000-7000-8000-000000000001@careslot", "SEQUENCE:2", "DTSTAMP:20260301T100000Z",
		"DTSTART:20260310T083000Z", "DTEND:20260310T090000Z", `SUMMARY:Dr Dubois\; consultation`,
		`LOCATION:Cabinet\, 12 rue de Rivoli\\Paris`, `DESCRIPTION:line 1\nline 2 ` + strings.ReplaceAll(long, ",", `\,`),
		"STATUS:CONFIRMED", "END:VEVENT", "END:VCALENDAR",
	}
	for _, w := range want {
		if !strings.Contains(unfolded, w+"\r\n") {
			t.Errorf("missing %q in\n%s", w, unfolded)
		}
	}
	if strings.Index(unfolded, "BEGIN:VEVENT") > strings.Index(unfolded, "END:VEVENT") {
		t.Error("VEVENT out of order")
	}

	c := string(business.ICS(business.Event{UID: "x", Start: start, End: start.Add(time.Hour), Summary: "s", Cancelled: true}))
	if !strings.Contains(c, "METHOD:CANCEL\r\n") || !strings.Contains(c, "STATUS:CANCELLED\r\n") {
		t.Errorf("cancelled event:\n%s", c)
	}
}

func TestFormatWhenAcrossDST(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	// 29 March 2026: clocks go forward in Paris; 08:30 UTC is 10:30 local.
	if got := business.FormatWhen("fr-FR", time.Date(2026, 3, 29, 8, 30, 0, 0, time.UTC), paris); got != "dimanche 29 mars 2026 à 10:30" {
		t.Errorf("got %q", got)
	}
	if got := business.FormatWhen("it_IT", time.Date(2026, 3, 28, 8, 30, 0, 0, time.UTC), paris); got != "sabato 28 marzo 2026 alle 09:30" {
		t.Errorf("got %q", got)
	}
	if business.Language("de-AT") != "de" || business.Language("nl-NL") != "en" || business.Language("") != "en" {
		t.Error("language fallbacks")
	}
}
