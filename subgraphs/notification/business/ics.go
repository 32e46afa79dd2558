package business

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is an appointment as an iCalendar event.
type Event struct {
	// UID is stable for an appointment, so a calendar updates the event it
	// already has when a move sends a new version (higher Sequence).
	UID         string
	Sequence    int64
	Stamp       time.Time // when the file was made
	Start, End  time.Time
	Summary     string
	Location    string
	Description string
	Cancelled   bool
}

// ICS writes one event as an RFC 5545 iCalendar object: CRLF line ends, lines
// folded at 75 octets (never inside a UTF-8 character), TEXT values escaped,
// times in UTC (the "Z" form needs no VTIMEZONE; calendars show them in the
// reader's zone).
func ICS(e Event) []byte {
	var b strings.Builder
	line := func(s string) {
		for len(s) > 75 {
			// At most 75 octets a physical line, the continuation's leading space included.
			cut := 75
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			b.WriteString(s[:cut] + "\r\n")
			s = " " + s[cut:]
		}
		b.WriteString(s + "\r\n")
	}
	method, status := "PUBLISH", "CONFIRMED"
	if e.Cancelled {
		method, status = "CANCEL", "CANCELLED"
	}
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Careslot//Appointments//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:" + method)
	line("BEGIN:VEVENT")
	line("UID:" + escapeText(e.UID))
	line("SEQUENCE:" + strconv.FormatInt(e.Sequence, 10))
	line("DTSTAMP:" + icsTime(e.Stamp))
	line("DTSTART:" + icsTime(e.Start))
	line("DTEND:" + icsTime(e.End))
	line("SUMMARY:" + escapeText(e.Summary))
	if e.Location != "" {
		line("LOCATION:" + escapeText(e.Location))
	}
	if e.Description != "" {
		line("DESCRIPTION:" + escapeText(e.Description))
	}
	line("STATUS:" + status)
	line("TRANSP:OPAQUE")
	line("END:VEVENT")
	line("END:VCALENDAR")
	return []byte(b.String())
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// escapeText escapes an RFC 5545 TEXT value: backslash, semicolon, comma and
// newlines.
func escapeText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}
