package business

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/slots"
)

// The stored form of an agenda (a record's terms): only what slots decide
// with and the snapshot's version, in a compact binary form, about a fifth
// of the snapshot's JSON (ADR 23):
//
//	byte     termsFormat
//	varint   snapshot version
//	uvarint  number of strings, then each once (ids and zone names,
//	         referred to below by index): uvarint 1 and the 16 bytes of a
//	         canonical (lower-case) UUID, which the stores' ids are, or
//	         uvarint 2×length and the bytes
//	uvarint  the agenda's zone
//	uvarint  number of types, then each: id, then varints duration, buffer
//	         before, buffer after, minimum notice (minutes), horizon
//	         (days), then a byte of flags (online, new patients)
//	uvarint  number of rules, then each: location, zone ("" none), then
//	         varints weekday, start and end minute, step, then uvarint
//	         number of type ids and each
//	uvarint  number of absences, then each: start and end as varint Unix
//	         seconds and uvarint nanoseconds
//
// A change of this form changes termsFormat; a record in another form is
// not misread (decodeTerms fails) and a rebuild rewrites it.
const termsFormat = 1

var errTermsFormat = errors.New("availability: unreadable stored terms (rebuild availability)")

const (
	flagOnline     = 1
	flagNewPatient = 2
)

// encodeTerms is ag's stored form; agendas that open the same slots (at
// the same version) give the same bytes.
func encodeTerms(ag *Agenda) []byte {
	var strs []string
	index := map[string]int{}
	ref := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = len(strs)
			index[s] = i
			strs = append(strs, s)
		}
		return uint64(i)
	}
	zoneName := func(z *time.Location) string {
		if z == nil {
			return ""
		}
		return z.String()
	}
	// The body refers to the strings; it is written first, then the table
	// goes before it.
	body := make([]byte, 0, 64+24*len(ag.Rules)+16*len(ag.Types))
	body = binary.AppendUvarint(body, ref(zoneName(ag.Zone)))
	body = binary.AppendUvarint(body, uint64(len(ag.Types)))
	for _, t := range ag.Types {
		body = binary.AppendUvarint(body, ref(t.ID))
		for _, d := range []time.Duration{t.Duration, t.BufferBefore, t.BufferAfter, t.MinNotice} {
			body = binary.AppendVarint(body, int64(d/time.Minute))
		}
		body = binary.AppendVarint(body, int64(t.HorizonDays))
		var f byte
		if t.OnlineBookable {
			f |= flagOnline
		}
		if t.NewPatientsAllowed {
			f |= flagNewPatient
		}
		body = append(body, f)
	}
	body = binary.AppendUvarint(body, uint64(len(ag.Rules)))
	for _, r := range ag.Rules {
		body = binary.AppendUvarint(body, ref(r.LocationID))
		body = binary.AppendUvarint(body, ref(zoneName(r.Zone)))
		for _, n := range []int{int(r.Weekday), r.StartMinute, r.EndMinute, r.StepMinutes} {
			body = binary.AppendVarint(body, int64(n))
		}
		body = binary.AppendUvarint(body, uint64(len(r.TypeIDs)))
		for _, id := range r.TypeIDs {
			body = binary.AppendUvarint(body, ref(id))
		}
	}
	body = binary.AppendUvarint(body, uint64(len(ag.Absences)))
	for _, a := range ag.Absences {
		for _, t := range []time.Time{a.Start, a.End} {
			body = binary.AppendVarint(body, t.Unix())
			body = binary.AppendUvarint(body, uint64(t.Nanosecond()))
		}
	}
	size := 1 + binary.MaxVarintLen64 + len(body)
	for _, s := range strs {
		size += 2 + len(s)
	}
	out := make([]byte, 0, size)
	out = append(out, termsFormat)
	out = binary.AppendVarint(out, ag.Version)
	out = binary.AppendUvarint(out, uint64(len(strs)))
	for _, s := range strs {
		if u, err := uuid.Parse(s); err == nil && len(s) == 36 && u.String() == s {
			out = binary.AppendUvarint(out, 1)
			out = append(out, u[:]...)
			continue
		}
		out = binary.AppendUvarint(out, 2*uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, body...)
}

// termsReader reads what encodeTerms wrote; the first error sticks.
type termsReader struct {
	b    []byte
	err  error
	strs []string
}

func (r *termsReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTermsFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *termsReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errTermsFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *termsReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errTermsFormat
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// count reads a number of items, each at least min bytes long.
func (r *termsReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.err = errTermsFormat
		return 0
	}
	return int(n)
}

func (r *termsReader) str() string {
	i := r.uvarint()
	if r.err != nil || i >= uint64(len(r.strs)) {
		r.err = errTermsFormat
		return ""
	}
	return r.strs[i]
}

func (r *termsReader) zone() *time.Location {
	name := r.str()
	if name == "" || r.err != nil {
		return nil
	}
	z, ok := slots.LoadZone(name)
	if !ok {
		r.err = errTermsFormat
	}
	return z
}

// decodeTerms reads a stored agenda of practitioner pid.
func decodeTerms(pid string, b []byte) (*Agenda, error) {
	if len(b) == 0 || b[0] != termsFormat {
		return nil, errTermsFormat
	}
	r := &termsReader{b: b[1:]}
	ag := &Agenda{ID: pid, Version: r.varint()}
	r.strs = make([]string, r.count(1))
	for i := range r.strs {
		n := r.uvarint()
		switch {
		case n == 1 && len(r.b) >= 16:
			r.strs[i] = uuid.UUID(r.b[:16]).String()
			r.b = r.b[16:]
		case n%2 == 0 && n/2 <= uint64(len(r.b)):
			r.strs[i] = string(r.b[:n/2])
			r.b = r.b[n/2:]
		default:
			return nil, errTermsFormat
		}
	}
	if ag.Zone = r.zone(); ag.Zone == nil {
		return nil, errTermsFormat
	}
	if n := r.count(7); n > 0 {
		ag.Types = make([]slots.Type, n)
	}
	for i := range ag.Types {
		t := &ag.Types[i]
		t.ID = r.str()
		for _, d := range []*time.Duration{&t.Duration, &t.BufferBefore, &t.BufferAfter, &t.MinNotice} {
			*d = time.Duration(r.varint()) * time.Minute
		}
		t.HorizonDays = int(r.varint())
		f := r.byte()
		t.OnlineBookable, t.NewPatientsAllowed = f&flagOnline != 0, f&flagNewPatient != 0
	}
	if n := r.count(7); n > 0 {
		ag.Rules = make([]slots.Rule, n)
	}
	for i := range ag.Rules {
		rl := &ag.Rules[i]
		rl.LocationID = r.str()
		rl.Zone = r.zone()
		rl.Weekday = time.Weekday(r.varint())
		rl.StartMinute, rl.EndMinute, rl.StepMinutes = int(r.varint()), int(r.varint()), int(r.varint())
		if n := r.count(1); n > 0 {
			rl.TypeIDs = make([]string, n)
		}
		for j := range rl.TypeIDs {
			rl.TypeIDs[j] = r.str()
		}
	}
	if n := r.count(4); n > 0 {
		ag.Absences = make([]slots.Interval, n)
	}
	for i := range ag.Absences {
		for _, t := range []*time.Time{&ag.Absences[i].Start, &ag.Absences[i].End} {
			sec := r.varint()
			*t = time.Unix(sec, int64(r.uvarint())).UTC()
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errTermsFormat
	}
	return ag, nil
}
