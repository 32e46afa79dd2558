package business

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
)

// Agenda is a practitioner snapshot turned into what slots decide with,
// which is all that the read model keeps of it (encodeTerms). The agenda's
// zone (that of its day bitmaps) is the zone of the practitioner's first
// location with a valid zone, else the country's default zone, else UTC.
// Each opening-hours rule keeps its own location's zone.
type Agenda struct {
	ID       string // the practitioner
	Version  int64  // the snapshot's
	Zone     *time.Location
	Rules    []slots.Rule
	Types    []slots.Type // snapshot order
	Absences []slots.Interval
}

// Type returns the appointment type id.
func (a *Agenda) Type(id string) (slots.Type, bool) {
	for _, t := range a.Types {
		if t.ID == id {
			return t, true
		}
	}
	return slots.Type{}, false
}

// sameSlots reports whether a and b open the same slots given the same
// occupied ranges: whether they store the same terms but for the version.
func sameSlots(a, b *Agenda) bool {
	x, y := *a, *b
	x.Version, y.Version = 0, 0
	return bytes.Equal(encodeTerms(&x), encodeTerms(&y))
}

// agendaOf converts a snapshot. fallback is the country's zone (may be nil).
func agendaOf(p eventdata.Practitioner, fallback *time.Location) *Agenda {
	t := slots.FromSnapshot(p, fallback)
	return &Agenda{ID: p.ID, Version: p.Version, Zone: t.Zone, Rules: t.Rules, Types: t.Types, Absences: t.Absences}
}

// occupied is an entry of the busy hash: an appointment or hold that blocks
// its range.
type occupied struct {
	Version int64
	Status  string
	Range   slots.Interval
}

func (o occupied) encode() string {
	return fmt.Sprintf("%d|%s|%d|%d", o.Version, o.Status, o.Range.Start.UnixMilli(), o.Range.End.UnixMilli())
}

func decodeOccupied(s string) (occupied, bool) {
	f := strings.Split(s, "|")
	if len(f) != 4 {
		return occupied{}, false
	}
	v, err1 := strconv.ParseInt(f[0], 10, 64)
	from, err2 := strconv.ParseInt(f[2], 10, 64)
	until, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return occupied{}, false
	}
	return occupied{Version: v, Status: f[1], Range: slots.Interval{Start: time.UnixMilli(from).UTC(), End: time.UnixMilli(until).UTC()}}, true
}

// gone is an entry of the gone hash: the last version of an appointment that
// no longer occupies, so an older event cannot bring it back.
type gone struct {
	Version int64
	Until   time.Time
}

func (g gone) encode() string { return fmt.Sprintf("%d|%d", g.Version, g.Until.UnixMilli()) }

func decodeGone(s string) (gone, bool) {
	a, b, ok := strings.Cut(s, "|")
	v, err1 := strconv.ParseInt(a, 10, 64)
	u, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return gone{}, false
	}
	return gone{Version: v, Until: time.UnixMilli(u).UTC()}, true
}

func decodeBusy(m map[string]string) map[string]occupied {
	out := make(map[string]occupied, len(m))
	for id, s := range m {
		if o, ok := decodeOccupied(s); ok {
			out[id] = o
		}
	}
	return out
}

func decodeGoneMap(m map[string]string) map[string]gone {
	out := make(map[string]gone, len(m))
	for id, s := range m {
		if g, ok := decodeGone(s); ok {
			out[id] = g
		}
	}
	return out
}

// schedule is what slots.BuildDay needs: the agenda's rules and absences and
// the occupied ranges.
func schedule(ag *Agenda, busy map[string]occupied) slots.Schedule {
	s := slots.Schedule{Rules: ag.Rules, Absences: ag.Absences, Blocked: make([]slots.Interval, 0, len(busy))}
	for _, o := range busy {
		s.Blocked = append(s.Blocked, o.Range)
	}
	// Deterministic order (BuildDay does not care, but it keeps runs comparable).
	slices.SortFunc(s.Blocked, func(a, b slots.Interval) int { return a.Start.Compare(b.Start) })
	return s
}
