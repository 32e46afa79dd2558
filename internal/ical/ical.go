// Package ical writes RFC 5545 iCalendar objects: appointments as events, one
// in an e-mail attachment (notification) or many in a subscribed calendar
// feed (booking). Lines end in CRLF and are folded at 75 octets (never inside
// a UTF-8 character), TEXT values are escaped, and times are written in UTC
// (the "Z" form needs no VTIMEZONE; calendars show them in the reader's zone).
package ical

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultProdID names the product that wrote an object, when a Calendar names none.
const DefaultProdID = "-//Careslot//Appointments//EN"

// Event is an appointment as an iCalendar event.
type Event struct {
	// UID is stable for an appointment, so a calendar updates the event it
	// already has when a new version (higher Sequence) comes.
	UID      string
	Sequence int64
	// Stamp is DTSTAMP: when the object was made (an invitation) or, in a
	// feed without METHOD, when the event last changed (RFC 5545 §3.8.7.2).
	Stamp time.Time
	// LastModified, when set, is LAST-MODIFIED.
	LastModified time.Time
	Start, End   time.Time
	Summary      string
	Location     string
	Description  string
	// Cancelled events carry STATUS:CANCELLED, which makes calendar
	// applications remove or strike them; the others are CONFIRMED.
	Cancelled bool
}

// Calendar is a VCALENDAR of events.
type Calendar struct {
	ProdID string // DefaultProdID when empty
	// Method is the iTIP method (RFC 5546) of an object sent to someone
	// (PUBLISH, CANCEL); empty for a feed a calendar application subscribes to.
	Method string
	// Name, when set, names the calendar in the application (NAME of RFC 7986
	// and X-WR-CALNAME, which most applications read).
	Name string
	// RefreshInterval, when positive, suggests how often to poll the feed
	// (REFRESH-INTERVAL of RFC 7986 and X-PUBLISHED-TTL).
	RefreshInterval time.Duration
	Events          []Event
}

// Encode writes the calendar as an iCalendar object.
func (c Calendar) Encode() []byte {
	var w writer
	prodID := c.ProdID
	if prodID == "" {
		prodID = DefaultProdID
	}
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:" + prodID)
	w.line("CALSCALE:GREGORIAN")
	if c.Method != "" {
		w.line("METHOD:" + c.Method)
	}
	if c.Name != "" {
		w.line("NAME:" + escapeText(c.Name))
		w.line("X-WR-CALNAME:" + escapeText(c.Name))
	}
	if c.RefreshInterval > 0 {
		d := duration(c.RefreshInterval)
		w.line("REFRESH-INTERVAL;VALUE=DURATION:" + d)
		w.line("X-PUBLISHED-TTL:" + d)
	}
	for _, e := range c.Events {
		w.event(e)
	}
	w.line("END:VCALENDAR")
	return []byte(w.b.String())
}

// Invite is one event as a message attachment: METHOD:PUBLISH, or CANCEL
// when the event is cancelled.
func Invite(e Event) []byte {
	method := "PUBLISH"
	if e.Cancelled {
		method = "CANCEL"
	}
	return Calendar{Method: method, Events: []Event{e}}.Encode()
}

type writer struct{ b strings.Builder }

// line writes one content line, folded: at most 75 octets a physical line,
// the continuation's leading space included.
func (w *writer) line(s string) {
	for len(s) > 75 {
		cut := 75
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n")
		s = " " + s[cut:]
	}
	w.b.WriteString(s)
	w.b.WriteString("\r\n")
}

func (w *writer) event(e Event) {
	status, transp := "CONFIRMED", "OPAQUE"
	if e.Cancelled {
		status, transp = "CANCELLED", "TRANSPARENT" // a cancelled appointment no longer makes the time busy
	}
	w.line("BEGIN:VEVENT")
	w.line("UID:" + escapeText(e.UID))
	w.line("SEQUENCE:" + strconv.FormatInt(e.Sequence, 10))
	w.line("DTSTAMP:" + utc(e.Stamp))
	if !e.LastModified.IsZero() {
		w.line("LAST-MODIFIED:" + utc(e.LastModified))
	}
	w.line("DTSTART:" + utc(e.Start))
	w.line("DTEND:" + utc(e.End))
	w.line("SUMMARY:" + escapeText(e.Summary))
	if e.Location != "" {
		w.line("LOCATION:" + escapeText(e.Location))
	}
	if e.Description != "" {
		w.line("DESCRIPTION:" + escapeText(e.Description))
	}
	w.line("STATUS:" + status)
	w.line("TRANSP:" + transp)
	w.line("END:VEVENT")
}

func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// duration is an RFC 5545 DURATION of whole seconds (e.g. PT15M, PT90S).
func duration(d time.Duration) string {
	secs := int64(d / time.Second)
	if secs%60 == 0 {
		return "PT" + strconv.FormatInt(secs/60, 10) + "M"
	}
	return "PT" + strconv.FormatInt(secs, 10) + "S"
}

var textEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)

// escapeText escapes an RFC 5545 TEXT value (backslash, semicolon, comma and
// newlines) and drops the control characters TEXT may not hold (all but
// HTAB), which a name typed into a form could carry.
func escapeText(s string) string {
	s = textEscaper.Replace(s)
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// AppointmentUID is the UID of an appointment's event, the same in every
// object Careslot writes (attachments, feeds), so a calendar that has the
// event from one updates it from another. The domain part stays "careslot":
// calendars already hold events by these UIDs.
func AppointmentUID(appointmentID string) string { return appointmentID + "@careslot" }
