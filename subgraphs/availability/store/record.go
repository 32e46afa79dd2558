package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Record is what listings read of a practitioner, stored as one string
// (Keys.Record): its country, next available slot, terms (the business
// layer's encoding of what slots decide with) and the day bitmaps of its
// window. One key instead of one per day and per field is what keeps the
// model near 1 KB a practitioner (ADR 23).
type Record struct {
	Country string
	Next    time.Time // zero: none (whole seconds are stored)
	Terms   []byte
	// Days maps a local date (YYYY-MM-DD) to its bitmap. Stored bitmaps lose
	// their trailing zero bytes: a missing byte reads as clear.
	Days map[string][]byte
}

// The record's encoding. A fixed header comes first, so that a script can
// tell which dates a record holds and GETRANGE can read the next slot and
// the country without the rest:
//
//	0      format (recordFormat)
//	1-8    next available slot, Unix seconds, big-endian int64; 0: none
//	9-12   first date of the days' span, days since 1970-01-01, big-endian uint32
//	13-14  number of dates in the span, big-endian uint16
//	15     length of the country code (at most maxCountry), then the code
//
// then the terms (uvarint length, bytes) and, for each date of the span in
// order, uvarint n: 0 when the date has no bitmap, else n-1 bytes of it
// follow, after a uvarint count of the zero bytes trimmed from its start
// (only when n > 1); zero bytes at its end are trimmed too. A seed
// practice's working day is 16 of its 36 bytes, a closed day none.
const (
	recordFormat  = 1
	recordHeader  = 16
	maxCountry    = 15
	maxRecordDays = 1<<16 - 1
	// nextHead is how much of a record GETRANGE reads for the next slot and
	// the country.
	nextHead = recordHeader + maxCountry
)

// ErrRecordFormat is a record this version cannot read: written by another
// format (rebuild the model) or damaged.
var ErrRecordFormat = errors.New("availability store: unreadable practitioner record (rebuild availability)")

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// dayNumber is a date's days since 1970-01-01.
// It reads the digits itself and lets time.Date count the days: time.Parse
// was most of a record's encoding (28 dates a record; BenchmarkEncodeRecord).
func dayNumber(date string) (int, error) {
	if len(date) != len(time.DateOnly) || date[4] != '-' || date[7] != '-' {
		return 0, fmt.Errorf("availability store: bad date %q", date)
	}
	y, ok1 := digits(date[0:4])
	m, ok2 := digits(date[5:7])
	d, ok3 := digits(date[8:10])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	// time.Date normalises an impossible date (2026-02-30 is March 2nd): refuse it.
	if !ok1 || !ok2 || !ok3 || int(t.Month()) != m || t.Day() != d {
		return 0, fmt.Errorf("availability store: bad date %q", date)
	}
	return int(t.Sub(epoch) / (24 * time.Hour)), nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// encodeRecord is r's stored form: the same record always gives the same bytes.
func encodeRecord(r *Record) ([]byte, error) {
	if len(r.Country) > maxCountry {
		return nil, fmt.Errorf("availability store: country %q too long", r.Country)
	}
	// The days by number, sorted: each date is parsed once, never formatted.
	type day struct {
		n    int
		bits []byte
	}
	days := make([]day, 0, len(r.Days))
	for d, b := range r.Days {
		n, err := dayNumber(d)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("availability store: bad date %q", d)
		}
		days = append(days, day{n, b})
	}
	slices.SortFunc(days, func(a, b day) int { return a.n - b.n })
	first, span := 0, 0
	if len(days) > 0 {
		first, span = days[0].n, days[len(days)-1].n-days[0].n+1
	}
	if span > maxRecordDays {
		return nil, fmt.Errorf("availability store: %d days in a record", span)
	}
	size := recordHeader + len(r.Country) + binary.MaxVarintLen32 + len(r.Terms) + 2*span
	for _, b := range r.Days {
		size += len(b) + 2
	}
	out := make([]byte, recordHeader, size)
	out[0] = recordFormat
	var next int64
	if !r.Next.IsZero() {
		next = r.Next.Unix()
	}
	binary.BigEndian.PutUint64(out[1:], uint64(next))
	binary.BigEndian.PutUint32(out[9:], uint32(first))
	binary.BigEndian.PutUint16(out[13:], uint16(span))
	out[15] = byte(len(r.Country))
	out = append(out, r.Country...)
	out = binary.AppendUvarint(out, uint64(len(r.Terms)))
	out = append(out, r.Terms...)
	for i, n := 0, first; i < span; i, n = i+1, n+1 {
		if len(days) == 0 || days[0].n != n {
			out = append(out, 0)
			continue
		}
		b := days[0].bits
		days = days[1:]
		lead := 0
		for lead < len(b) && b[lead] == 0 {
			lead++
		}
		end := len(b)
		for end > lead && b[end-1] == 0 {
			end--
		}
		out = binary.AppendUvarint(out, uint64(end-lead+1))
		if end > lead {
			out = binary.AppendUvarint(out, uint64(lead))
			out = append(out, b[lead:end]...)
		}
	}
	return out, nil
}

// decodeRecord reads a stored record.
func decodeRecord(b []byte) (*Record, error) {
	if len(b) < recordHeader || b[0] != recordFormat {
		return nil, ErrRecordFormat
	}
	r := &Record{}
	if next := int64(binary.BigEndian.Uint64(b[1:])); next != 0 {
		r.Next = time.Unix(next, 0).UTC()
	}
	first := int(binary.BigEndian.Uint32(b[9:]))
	span := int(binary.BigEndian.Uint16(b[13:]))
	cl := int(b[15])
	p := recordHeader + cl
	if p > len(b) {
		return nil, ErrRecordFormat
	}
	r.Country = string(b[recordHeader:p])
	n, w := binary.Uvarint(b[p:])
	if w <= 0 || uint64(len(b)-p-w) < n {
		return nil, ErrRecordFormat
	}
	p += w
	r.Terms = b[p : p+int(n) : p+int(n)]
	p += int(n)
	r.Days = make(map[string][]byte, span)
	date := epoch.AddDate(0, 0, first)
	for i := range span {
		if i > 0 {
			date = date.Add(24 * time.Hour) // UTC: no day is longer
		}
		n, w := binary.Uvarint(b[p:])
		if w <= 0 {
			return nil, ErrRecordFormat
		}
		p += w
		if n == 0 {
			continue
		}
		size := int(n - 1)
		lead := uint64(0)
		if size > 0 {
			if lead, w = binary.Uvarint(b[p:]); w <= 0 || lead > 1<<16 {
				return nil, ErrRecordFormat
			}
			p += w
		}
		if size > len(b)-p {
			return nil, ErrRecordFormat
		}
		day := make([]byte, int(lead)+size)
		copy(day[lead:], b[p:p+size])
		p += size
		r.Days[date.Format(time.DateOnly)] = day
	}
	if p != len(b) {
		return nil, ErrRecordFormat
	}
	return r, nil
}

// decodeHead reads the country and the next slot from a record's first
// nextHead bytes (GETRANGE).
func decodeHead(b []byte) (country string, next time.Time, err error) {
	if len(b) < recordHeader || b[0] != recordFormat || len(b) < recordHeader+int(b[15]) {
		return "", time.Time{}, ErrRecordFormat
	}
	if n := int64(binary.BigEndian.Uint64(b[1:])); n != 0 {
		next = time.Unix(n, 0).UTC()
	}
	return string(b[recordHeader : recordHeader+int(b[15])]), next, nil
}

// DecodeRecord reads a stored record (for tools and tests that look at the
// model's keys).
func DecodeRecord(b []byte) (*Record, error) { return decodeRecord(b) }
