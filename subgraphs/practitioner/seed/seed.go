// Package seed generates realistic practices for load tests and demos:
// practitioners clustered around each country's cities, with specialties,
// languages, one or two locations, appointment types and weekly opening hours.
// Rows go through the practitioner service's own import path, so seeded data
// is validated, evented and indexed like any other.
package seed

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
)

// City is a population centre practices cluster around.
type City struct {
	Name     string
	Lat, Lon float64
	Weight   int // relative share of practices
}

// cities per country code; a country without an entry gets practices around
// a point derived from its code (so any new country can be seeded).
var cities = map[string][]City{
	"fr": {
		{"Paris", 48.8566, 2.3522, 30}, {"Marseille", 43.2965, 5.3698, 8}, {"Lyon", 45.7640, 4.8357, 8},
		{"Toulouse", 43.6047, 1.4442, 6}, {"Nice", 43.7102, 7.2620, 5}, {"Nantes", 47.2184, -1.5536, 5},
		{"Strasbourg", 48.5734, 7.7521, 4}, {"Montpellier", 43.6108, 3.8767, 4}, {"Bordeaux", 44.8378, -0.5792, 5},
		{"Lille", 50.6292, 3.0573, 5}, {"Rennes", 48.1173, -1.6778, 3}, {"Reims", 49.2583, 4.0317, 2},
		{"Grenoble", 45.1885, 5.7245, 3}, {"Dijon", 47.3220, 5.0415, 2}, {"Angers", 47.4784, -0.5632, 2},
		{"Brest", 48.3904, -4.4861, 2}, {"Tours", 47.3941, 0.6848, 2}, {"Limoges", 45.8336, 1.2611, 2},
		{"Clermont-Ferrand", 45.7772, 3.0870, 2}, {"Rouen", 49.4432, 1.0999, 2},
	},
	"de": {
		{"Berlin", 52.5200, 13.4050, 20}, {"Hamburg", 53.5511, 9.9937, 10}, {"München", 48.1351, 11.5820, 10},
		{"Köln", 50.9375, 6.9603, 7}, {"Frankfurt am Main", 50.1109, 8.6821, 6}, {"Stuttgart", 48.7758, 9.1829, 5},
		{"Düsseldorf", 51.2277, 6.7735, 5}, {"Leipzig", 51.3397, 12.3731, 4}, {"Dortmund", 51.5136, 7.4653, 4},
		{"Essen", 51.4556, 7.0116, 4}, {"Bremen", 53.0793, 8.8017, 3}, {"Dresden", 51.0504, 13.7373, 3},
		{"Hannover", 52.3759, 9.7320, 3}, {"Nürnberg", 49.4521, 11.0767, 3},
	},
	"it": {
		{"Roma", 41.9028, 12.4964, 15}, {"Milano", 45.4642, 9.1900, 15}, {"Napoli", 40.8518, 14.2681, 8},
		{"Torino", 45.0703, 7.6869, 7}, {"Palermo", 38.1157, 13.3615, 5}, {"Genova", 44.4056, 8.9463, 4},
		{"Bologna", 44.4949, 11.3426, 4}, {"Firenze", 43.7696, 11.2558, 4}, {"Bari", 41.1171, 16.8719, 3},
		{"Catania", 37.5079, 15.0830, 3}, {"Venezia", 45.4408, 12.3155, 3}, {"Verona", 45.4384, 10.9916, 3},
	},
}

var firstNames = []string{"Claire", "Paul", "Sophie", "Lucas", "Emma", "Hugo", "Léa", "Louis", "Chloé", "Gabriel",
	"Anna", "Jonas", "Marie", "Felix", "Giulia", "Marco", "Sara", "Luca", "Élodie", "Jérôme", "Zoé", "Noah", "Inès", "Adam"}
var lastNames = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Lefèvre", "Garcia"}
var extraLanguages = []string{"en", "en", "en", "es", "de", "it", "ar", "pt", "zh"}

// Generator makes deterministic practices for one country.
type Generator struct {
	country *countries.Country
	cities  []City
	total   int
	rng     *rand.Rand
}

// NewGenerator returns a generator for a country, seeded for reproducibility.
func NewGenerator(c *countries.Country, seed uint64) *Generator {
	cs := cities[c.Code]
	if len(cs) == 0 {
		// Any served country can be seeded: one synthetic centre from its code.
		h := float64(int(c.Code[0])*31 + int(c.Code[1]))
		cs = []City{{Name: "Centre " + c.Code, Lat: 30 + math.Mod(h, 30), Lon: -10 + math.Mod(h*7, 40), Weight: 1}}
	}
	total := 0
	for _, x := range cs {
		total += x.Weight
	}
	return &Generator{country: c, cities: cs, total: total, rng: rand.New(rand.NewPCG(seed, uint64(len(c.Code))))}
}

func (g *Generator) city() City {
	n := g.rng.IntN(g.total)
	for _, c := range g.cities {
		if n < c.Weight {
			return c
		}
		n -= c.Weight
	}
	return g.cities[0]
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// Row makes the practice with external id "seed-<cc>-<n>" (the same n gives
// the same practice, so seeding again updates rather than duplicates).
func (g *Generator) Row(n int) business.ImportRow {
	c := g.country
	spec := c.Specialties[g.rng.IntN(len(c.Specialties))].Code
	specs := []string{spec}
	if g.rng.IntN(8) == 0 {
		if other := c.Specialties[g.rng.IntN(len(c.Specialties))].Code; other != spec {
			specs = append(specs, other)
		}
	}
	langs := []string{c.Locale[:2]}
	if g.rng.IntN(2) == 0 {
		if l := g.pick(extraLanguages); l != langs[0] {
			langs = append(langs, l)
		}
	}
	accepts := g.rng.IntN(5) != 0
	row := business.ImportRow{
		ExternalID: fmt.Sprintf("seed-%s-%d", c.Code, n), Country: c.Code,
		FirstName: g.pick(firstNames), LastName: g.pick(lastNames),
		Specialties: specs, Languages: langs, AcceptsNewPatients: &accepts,
	}
	nLocs := 1
	if g.rng.IntN(6) == 0 {
		nLocs = 2
	}
	home := g.city()
	for i := 0; i < nLocs; i++ {
		// Practices cluster around the city centre: ~5 km spread, a long tail.
		r := math.Abs(g.rng.NormFloat64()) * 0.05
		a := g.rng.Float64() * 2 * math.Pi
		row.Locations = append(row.Locations, business.LocationInput{
			Name: fmt.Sprintf("Cabinet %s %d", home.Name, i+1), Line1: fmt.Sprintf("%d rue de la Santé", 1+g.rng.IntN(200)),
			PostalCode: fmt.Sprintf("%05d", 1000+g.rng.IntN(98000)), City: home.Name, Country: c.Code,
			Lat: home.Lat + r*math.Sin(a), Lon: home.Lon + r*math.Cos(a)/math.Cos(home.Lat*math.Pi/180), TimeZone: c.TimeZone,
		})
	}
	notice, horizon := 60, 60
	row.AppointmentTypes = []business.ImportTypeInput{{Key: "consult", AppointmentTypeInput: business.AppointmentTypeInput{
		Name: "Consultation", DurationMinutes: []int{15, 20, 30}[g.rng.IntN(3)], VisitMode: "IN_PERSON",
		NewPatientsAllowed: accepts, OnlineBookable: true, MinNoticeMinutes: &notice, BookingHorizonDays: &horizon,
	}}}
	keys := []string{"consult"}
	if c.HasFeature("video") && g.rng.IntN(3) == 0 {
		row.AppointmentTypes = append(row.AppointmentTypes, business.ImportTypeInput{Key: "video", AppointmentTypeInput: business.AppointmentTypeInput{
			Name: "Téléconsultation", DurationMinutes: 15, VisitMode: "VIDEO", NewPatientsAllowed: accepts, OnlineBookable: true,
			MinNoticeMinutes: &notice, BookingHorizonDays: &horizon,
		}})
		keys = append(keys, "video")
	}
	// Mornings and afternoons on weekdays, some Saturday mornings; a second
	// location takes some afternoons.
	step := 15
	for day := 1; day <= 5; day++ {
		loc := 0
		row.OpeningHours = append(row.OpeningHours, business.ImportHoursInput{LocationIndex: 0, AppointmentTypeKeys: keys,
			RuleInput: business.RuleInput{Weekday: day, StartMinute: 8*60 + 30, EndMinute: 12 * 60, StepMinutes: step}})
		if nLocs == 2 && day%2 == 0 {
			loc = 1
		}
		row.OpeningHours = append(row.OpeningHours, business.ImportHoursInput{LocationIndex: loc, AppointmentTypeKeys: keys,
			RuleInput: business.RuleInput{Weekday: day, StartMinute: 14 * 60, EndMinute: 18*60 + 30, StepMinutes: step}})
	}
	if g.rng.IntN(3) == 0 {
		row.OpeningHours = append(row.OpeningHours, business.ImportHoursInput{LocationIndex: 0, AppointmentTypeKeys: keys,
			RuleInput: business.RuleInput{Weekday: 6, StartMinute: 9 * 60, EndMinute: 12 * 60, StepMinutes: step}})
	}
	return row
}

// Cities lists the population centres a country's practices cluster around
// (load tests aim their searches there).
func Cities(country string) []City { return cities[country] }
