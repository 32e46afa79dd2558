package gqlscalar

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzDate: a Date parses only from YYYY-MM-DD, and what it prints parses back to it.
func FuzzDate(f *testing.F) {
	for _, s := range []string{"2026-03-29", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2026-1-1", "", "2026-03-29T00:00:00Z", "+2026-03-29", " 2026-03-29", "٢٠٢٦-٠٣-٢٩"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Date
		if err := d.UnmarshalGQL(s); err != nil {
			return
		}
		if len(s) != 10 || d.String() != s {
			t.Fatalf("%q parsed to %s", s, d)
		}
		var out bytes.Buffer
		d.MarshalGQL(&out)
		var back Date
		unquoted, err := strconv.Unquote(out.String())
		if err != nil || back.UnmarshalGQL(unquoted) != nil || !back.Equal(d.Time) {
			t.Fatalf("%q: printed %s does not parse back", s, out.String())
		}
	})
}

// FuzzLocalTime: HH:MM from 00:00 to 24:00 only, printed as it was read.
func FuzzLocalTime(f *testing.F) {
	for _, s := range []string{"09:00", "24:00", "24:01", "23:59", "7:05", "12:60", "-1:00", "+1:00", "1a:00", "", "12:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var lt LocalTime
		if err := lt.UnmarshalGQL(s); err != nil {
			return
		}
		if lt.Minutes < 0 || lt.Minutes > 24*60 || lt.String() != s {
			t.Fatalf("%q parsed to %d minutes (%s)", s, lt.Minutes, lt)
		}
	})
}

// FuzzDateTime: the DateTime scalar (gqlgen's RFC 3339 time) accepts only instants that print
// back to the same instant.
func FuzzDateTime(f *testing.F) {
	for _, s := range []string{"2026-03-29T01:30:00Z", "2026-03-29T02:30:00+02:00", "2026-03-29T01:30:00.123456789-07:00", "2026-13-01T00:00:00Z", "2026-03-29 01:30:00", "", "9999-12-31T23:59:59Z", "2026-03-29T24:00:00Z", "2026-03-29T01:30:00+99:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := graphql.UnmarshalTime(s)
		if err != nil || s == "" { // gqlgen reads "" as the zero time; the services refuse it
			return
		}
		var out bytes.Buffer
		graphql.MarshalTime(tm).MarshalGQL(&out)
		unquoted, err := strconv.Unquote(out.String())
		if err != nil {
			t.Fatalf("%q printed as %s", s, out.String())
		}
		back, err := graphql.UnmarshalTime(unquoted)
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q: printed %s does not parse back to the same instant (%v)", s, unquoted, err)
		}
		_ = tm.In(time.UTC)
	})
}

// FuzzJSON: any JSON value goes through the JSON scalar unchanged in meaning.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, `{"a":[1,2,{"b":"c"}]}`, `"x"`, `1e308`, `{"a":"\u0000"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		var j JSON
		if err := j.UnmarshalGQL(v); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		var out bytes.Buffer
		j.MarshalGQL(&out)
		var back any
		if err := json.Unmarshal(out.Bytes(), &back); err != nil {
			t.Fatalf("%q printed as invalid JSON %q", s, out.String())
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(back)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q came back as %s", s, out.String())
		}
	})
}
