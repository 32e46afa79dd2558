package slots

import (
	"slices"
	"sync"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
)

// Terms are what the decision needs from a practitioner event snapshot. Both
// the availability listing and the booking gate build them here, so they
// cannot read a snapshot differently.
type Terms struct {
	// Zone is the agenda's zone (that of its day bitmaps): the first location
	// with a valid zone, else the fallback (the country's), else UTC. Each
	// rule keeps its own location's zone.
	Zone *time.Location
	// FirstLocationID is the location Zone came from ("" when none).
	FirstLocationID string
	Rules           []Rule
	Types           []Type // snapshot order
	Absences        []Interval
}

// FromSnapshot converts a snapshot. A rule at a location without a valid
// zone, or with unreadable times, opens nothing (as an invalid rule would).
func FromSnapshot(p eventdata.Practitioner, fallback *time.Location) Terms {
	var t Terms
	locZone := make(map[string]*time.Location, len(p.Locations))
	for _, l := range p.Locations {
		if z, ok := LoadZone(l.TimeZone); ok {
			locZone[l.ID] = z
			if t.Zone == nil {
				t.Zone, t.FirstLocationID = z, l.ID
			}
		}
	}
	if t.Zone == nil {
		t.Zone = fallback
	}
	if t.Zone == nil {
		t.Zone = time.UTC
	}
	for _, h := range p.OpeningHours {
		z := locZone[h.LocationID]
		start, err1 := ParseWallClock(h.StartTime)
		end, err2 := ParseWallClock(h.EndTime)
		if z == nil || err1 != nil || err2 != nil {
			continue
		}
		t.Rules = append(t.Rules, Rule{LocationID: h.LocationID, Zone: z, Weekday: ISOWeekday(h.Weekday),
			StartMinute: start, EndMinute: end, StepMinutes: h.StepMinutes, TypeIDs: slices.Clone(h.AppointmentTypeIDs)})
	}
	for _, at := range p.AppointmentTypes {
		t.Types = append(t.Types, TypeOf(at, p.AcceptsNewPatients))
	}
	for _, a := range p.Absences {
		t.Absences = append(t.Absences, Interval{Start: a.StartsAt.UTC(), End: a.EndsAt.UTC()})
	}
	return t
}

// TypeOf converts an appointment type of a snapshot. A practice that accepts
// no new patients accepts none for any of its types.
func TypeOf(t eventdata.AppointmentType, acceptsNewPatients bool) Type {
	return Type{
		ID:                 t.ID,
		Duration:           time.Duration(t.DurationMinutes) * time.Minute,
		BufferBefore:       time.Duration(t.BufferBeforeMinutes) * time.Minute,
		BufferAfter:        time.Duration(t.BufferAfterMinutes) * time.Minute,
		MinNotice:          time.Duration(t.MinNoticeMinutes) * time.Minute,
		HorizonDays:        t.BookingHorizonDays,
		OnlineBookable:     t.OnlineBookable,
		NewPatientsAllowed: t.NewPatientsAllowed && acceptsNewPatients,
	}
}

var zones sync.Map // IANA name → *time.Location: one pointer per zone

// LoadZone loads an IANA zone once.
func LoadZone(name string) (*time.Location, bool) {
	if name == "" {
		return nil, false
	}
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), true
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	actual, _ := zones.LoadOrStore(name, z)
	return actual.(*time.Location), true
}
