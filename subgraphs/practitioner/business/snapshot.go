package business

import (
	"fmt"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// DisplayName is how a practitioner is shown to patients.
func DisplayName(p store.Practitioner) string { return "Dr " + p.FirstName + " " + p.LastName }

// SnapshotOf converts an aggregate to its event form.
func SnapshotOf(a store.Aggregate) eventdata.Practitioner {
	p := a.Practitioner
	s := eventdata.Practitioner{
		ID: p.ID, Version: p.Version, Country: p.Country, FirstName: p.FirstName, LastName: p.LastName,
		DisplayName: DisplayName(p), Specialties: nonNil(p.Specialties), Languages: nonNil(p.Languages),
		AcceptsNewPatients: p.AcceptsNewPatients, Rating: p.Rating,
		Locations: []eventdata.Location{}, AppointmentTypes: []eventdata.AppointmentType{},
		OpeningHours: []eventdata.OpeningHours{}, Absences: []eventdata.Absence{},
	}
	if np := p.NoShowPolicy; np != nil {
		s.NoShowPolicy = &eventdata.NoShowPolicy{Limit: np.Limit, PeriodDays: np.PeriodDays, RestrictionDays: np.RestrictionDays}
	}
	for _, l := range a.Locations {
		s.Locations = append(s.Locations, eventdata.Location{ID: l.ID, Name: l.Name, Line1: l.Line1, PostalCode: l.PostalCode,
			City: l.City, Country: l.AddressCountry, Lat: l.Lat, Lon: l.Lon, TimeZone: l.TimeZone})
	}
	for _, t := range a.AppointmentTypes {
		s.AppointmentTypes = append(s.AppointmentTypes, eventdata.AppointmentType{ID: t.ID, Name: t.Name,
			DurationMinutes: t.DurationMinutes, VisitMode: t.VisitMode, NewPatientsAllowed: t.NewPatientsAllowed,
			OnlineBookable: t.OnlineBookable, BufferBeforeMinutes: t.BufferBeforeMinutes, BufferAfterMinutes: t.BufferAfterMinutes,
			MinNoticeMinutes: t.MinNoticeMinutes, BookingHorizonDays: t.BookingHorizonDays})
	}
	for _, h := range a.OpeningHours {
		s.OpeningHours = append(s.OpeningHours, eventdata.OpeningHours{ID: h.ID, LocationID: h.LocationID, Weekday: h.Weekday,
			StartTime: ClockTime(h.StartMinute), EndTime: ClockTime(h.EndMinute), StepMinutes: h.StepMinutes,
			AppointmentTypeIDs: nonNil(h.AppointmentTypeIDs)})
	}
	for _, ab := range a.Absences {
		s.Absences = append(s.Absences, eventdata.Absence{ID: ab.ID, StartsAt: ab.StartsAt.UTC(), EndsAt: ab.EndsAt.UTC(), Reason: ab.Reason})
	}
	return s
}

// ClockTime writes minutes since midnight as HH:MM (1440 is 24:00).
func ClockTime(minutes int) string {
	if minutes < 0 || minutes >= 100*60 {
		return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60)
	}
	// Without fmt: every snapshot writes a few dozen of these.
	h, m := minutes/60, minutes%60
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
