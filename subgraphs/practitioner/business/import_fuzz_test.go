package business

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/countries"
)

// FuzzImportRow: an import row built from arbitrary values is refused with an error or accepted
// with everything the portal's rules ask: a served country, trimmed names, locations in range
// and in a real zone, appointment types and weekly rules that make sense, a registration number
// of the country's form.
func FuzzImportRow(f *testing.F) {
	cat, err := countries.Load("")
	if err != nil {
		f.Fatal(err)
	}
	s := New(nil, cat)
	f.Add("ext-1", "fr", "Jeanne", "Martin", "general-practice", "fr", "10101010101", 48.87, 2.33, "Europe/Paris", "Suivi", 15, 1, 540, 720, 15)
	f.Add(" ext ", "FR", " Jeanne ", "Martin", "dentistry", "en", "", -90.0, 180.0, "UTC", "A", 5, 7, 0, 1440, 240)
	f.Add("x", "zz", "", "", "", "", "", math.NaN(), math.Inf(1), "Local", "", 0, 0, -5, 2000, 0)
	f.Add("x", "de", "A", "B", "cardiology", "xx", "abc", 0.0, 0.0, "Europe/../Paris", "T", 480, 8, 720, 540, 7)
	f.Fuzz(func(t *testing.T, ext, country, first, last, specialty, lang, regNo string, lat, lon float64, zone, typeName string, minutes, weekday, start, end, step int) {
		row := ImportRow{
			ExternalID: ext, Country: country, FirstName: first, LastName: last,
			Specialties: []string{specialty}, Languages: []string{lang}, RegistrationNumber: &regNo,
			Locations: []LocationInput{{Name: "Cabinet", Line1: "1 rue A", PostalCode: "75001", City: "Paris", Country: strings.ToLower(strings.TrimSpace(country)), Lat: lat, Lon: lon, TimeZone: zone}},
			AppointmentTypes: []ImportTypeInput{{Key: "t", AppointmentTypeInput: AppointmentTypeInput{
				Name: typeName, DurationMinutes: minutes, VisitMode: "IN_PERSON", NewPatientsAllowed: true, OnlineBookable: true}}},
			OpeningHours: []ImportHoursInput{{LocationIndex: 0, AppointmentTypeKeys: []string{"t"},
				RuleInput: RuleInput{Weekday: weekday, StartMinute: start, EndMinute: end, StepMinutes: step}}},
		}
		pr, err := s.prepare(row)
		if err != nil {
			return
		}
		c, ok := cat.Get(pr.p.Country)
		if !ok || pr.key.Country != c.Code || pr.key.ExternalID == "" {
			t.Fatalf("accepted for country %q, key %+v", pr.p.Country, pr.key)
		}
		if pr.p.FirstName == "" || pr.p.FirstName != strings.TrimSpace(pr.p.FirstName) || pr.p.LastName == "" {
			t.Fatalf("accepted names %q %q", pr.p.FirstName, pr.p.LastName)
		}
		if pr.p.RegistrationNumber != "" && !c.ValidRegistrationNumber(pr.p.RegistrationNumber) {
			t.Fatalf("accepted registration number %q for %s", pr.p.RegistrationNumber, c.Code)
		}
		for _, l := range pr.locs {
			if _, err := time.LoadLocation(l.TimeZone); err != nil || math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180 {
				t.Fatalf("accepted location %+v", l)
			}
		}
		for _, a := range pr.types {
			if a.DurationMinutes <= 0 || a.DurationMinutes%5 != 0 || a.Name == "" {
				t.Fatalf("accepted type %+v", a)
			}
		}
		for _, h := range pr.hours {
			if h.StartMinute < 0 || h.EndMinute > 24*60 || h.StartMinute >= h.EndMinute || h.StepMinutes <= 0 || h.Weekday < 1 || h.Weekday > 7 {
				t.Fatalf("accepted rule %+v", h)
			}
		}
	})
}

// FuzzValidZone: only IANA names that load pass (no "Local", offsets or paths).
func FuzzValidZone(f *testing.F) {
	for _, z := range []string{"Europe/Paris", "UTC", "Local", "", "+01:00", "../etc/passwd", "Europe/Paris/..", "Etc/GMT-3", "America/Argentina/Buenos_Aires", "europe/paris"} {
		f.Add(z)
	}
	f.Fuzz(func(t *testing.T, z string) {
		if validZone(z) != nil {
			return
		}
		if _, err := time.LoadLocation(z); err != nil || z == "Local" || (!strings.Contains(z, "/") && z != "UTC") {
			t.Fatalf("%q accepted", z)
		}
	})
}

// FuzzLanguages: accepted language lists are lower-case ISO 639 codes without duplicates.
func FuzzLanguages(f *testing.F) {
	f.Add("fr", "EN", " de ")
	f.Add("fr", "fr", "x1")
	f.Add("", "français", "zh-Hant")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		out, err := languages([]string{a, b, c})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range out {
			if seen[l] || l != strings.ToLower(l) || !languageRE.MatchString(l) {
				t.Fatalf("%q %q %q accepted as %q", a, b, c, out)
			}
			seen[l] = true
		}
	})
}
