package ical_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	goical "github.com/arran4/golang-ical"

	"github.com/careslot/careslot/internal/ical"
)

// TestInvite: one event as an attachment (notification's), line by line.
func TestInvite(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 10, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	long := strings.Repeat("Généraliste, ", 10) + "fin"
	got := string(ical.Invite(ical.Event{
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

	c := string(ical.Invite(ical.Event{UID: "x", Start: start, End: start.Add(time.Hour), Summary: "s", Cancelled: true}))
	if !strings.Contains(c, "METHOD:CANCEL\r\n") || !strings.Contains(c, "STATUS:CANCELLED\r\n") {
		t.Errorf("cancelled event:\n%s", c)
	}
}

// TestCalendarParses: a feed of several events, with every character TEXT
// must escape, long values and characters TEXT may not hold, read back by an
// independent RFC 5545 parser to the same values.
func TestCalendarParses(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 6, 4, 8, 0, 0, 0, time.UTC)
	stamp := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	odd := `Zoë "la" Martin-Ńowak; née, \ Dupont` + "\nsecond line " + strings.Repeat("é", 60)
	cal := ical.Calendar{ProdID: "-//Careslot//Agenda//EN", Name: "Careslot: Dr Claire Dubois, Paris", RefreshInterval: 15 * time.Minute,
		Events: []ical.Event{
			{UID: "a@careslot", Sequence: 1, Stamp: stamp, LastModified: stamp, Start: start, End: start.Add(30 * time.Minute),
				Summary: "Camille Martin — Consultation", Location: "Cabinet, 12 rue Oberkampf, 75011 Paris"},
			{UID: "b@careslot", Sequence: 3, Stamp: stamp, Start: start.Add(time.Hour), End: start.Add(90 * time.Minute),
				Summary: odd + "\x00\x07", Description: "bell\x07 gone", Cancelled: true},
		}}
	raw := cal.Encode()
	if lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n"); slices.ContainsFunc(lines, func(l string) bool { return len(l) > 75 }) {
		t.Errorf("a line is longer than 75 octets:\n%s", raw)
	}
	if strings.Contains(string(raw), "METHOD:") {
		t.Error("a subscribed feed carries no iTIP method")
	}

	parsed, err := goical.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	prop := func(c *goical.ComponentBase, p goical.ComponentProperty) string {
		if v := c.GetProperty(p); v != nil {
			return v.Value
		}
		return ""
	}
	for _, p := range parsed.CalendarProperties {
		switch p.IANAToken {
		case "PRODID":
			if p.Value != "-//Careslot//Agenda//EN" {
				t.Errorf("PRODID %q", p.Value)
			}
		case "X-WR-CALNAME", "NAME":
			if p.Value != "Careslot: Dr Claire Dubois, Paris" {
				t.Errorf("%s %q", p.IANAToken, p.Value)
			}
		case "X-PUBLISHED-TTL", "REFRESH-INTERVAL":
			if p.Value != "PT15M" {
				t.Errorf("%s %q", p.IANAToken, p.Value)
			}
		}
	}
	events := parsed.Events()
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	first, second := &events[0].ComponentBase, &events[1].ComponentBase
	if got, _ := first.GetStartAt(); !got.Equal(start) {
		t.Errorf("DTSTART %s", got)
	}
	if got, _ := second.GetEndAt(); !got.Equal(start.Add(90 * time.Minute)) {
		t.Errorf("DTEND %s", got)
	}
	if got, _ := first.GetLastModifiedAt(); !got.Equal(stamp) {
		t.Errorf("LAST-MODIFIED %s", got)
	}
	for _, c := range []struct{ got, want string }{
		{first.Id(), "a@careslot"},
		{prop(first, goical.ComponentPropertyStatus), "CONFIRMED"},
		{prop(first, goical.ComponentPropertyLocation), "Cabinet, 12 rue Oberkampf, 75011 Paris"},
		{prop(first, goical.ComponentPropertySummary), "Camille Martin — Consultation"},
		{prop(second, goical.ComponentPropertySequence), "3"},
		{prop(second, goical.ComponentPropertyStatus), "CANCELLED"},
		{prop(second, goical.ComponentPropertySummary), odd},
		{prop(second, goical.ComponentPropertyDescription), "bell gone"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
