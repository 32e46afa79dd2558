// Package gqlscalar implements the contract's custom scalars: Date
// (YYYY-MM-DD), LocalTime (HH:MM, 24 h) and JSON.
package gqlscalar

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Date is a calendar day with no zone, as in "2026-03-29".
type Date struct{ time.Time }

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date must be YYYY-MM-DD: %q", s)
	}
	return Date{t}, nil
}

func (d Date) String() string { return d.Format(time.DateOnly) }

// MarshalGQL writes the date as a JSON string.
func (d Date) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(d.String())) }

// UnmarshalGQL reads YYYY-MM-DD.
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("date must be a string")
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// LocalTime is a wall-clock time of day, minutes since midnight.
type LocalTime struct{ Minutes int }

// ParseLocalTime parses HH:MM (00:00–24:00; 24:00 closes a day).
func ParseLocalTime(s string) (LocalTime, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return LocalTime{}, fmt.Errorf("time must be HH:MM: %q", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return LocalTime{}, fmt.Errorf("time must be HH:MM between 00:00 and 24:00: %q", s)
	}
	return LocalTime{Minutes: h*60 + m}, nil
}

// digits reports whether s is ASCII digits only (strconv.Atoi also takes a sign).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (t LocalTime) String() string { return fmt.Sprintf("%02d:%02d", t.Minutes/60, t.Minutes%60) }

// MarshalGQL writes HH:MM.
func (t LocalTime) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(t.String())) }

// UnmarshalGQL reads HH:MM.
func (t *LocalTime) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("time must be a string")
	}
	p, err := ParseLocalTime(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// JSON is an arbitrary JSON document (used for data exports).
type JSON json.RawMessage

// MarshalGQL writes the raw document.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL accepts any JSON value.
func (j *JSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	*j = b
	return nil
}
