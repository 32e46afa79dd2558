package business

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/eventdata"
)

// snapshotAgenda is an agenda as the service makes one from a snapshot with
// the stores' UUIDs, an absence with sub-second instants and one far ahead,
// and a rule at a location without a zone.
func snapshotAgenda(rng *rand.Rand, n int) *Agenda {
	id := func() string {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(rng.IntN(256))
		}
		u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
		return u.String()
	}
	loc, other, typ := id(), id(), id()
	p := eventdata.Practitioner{ID: id(), Version: int64(n), Country: "fr", AcceptsNewPatients: n%2 == 0,
		Locations: []eventdata.Location{{ID: loc, TimeZone: "Europe/Paris"}, {ID: other, TimeZone: "Nowhere/Land"}},
		AppointmentTypes: []eventdata.AppointmentType{
			{ID: typ, DurationMinutes: 20, BufferBeforeMinutes: -5, BufferAfterMinutes: 5, MinNoticeMinutes: 90, BookingHorizonDays: 60, OnlineBookable: true, NewPatientsAllowed: true},
			{ID: "offline", DurationMinutes: 45, BookingHorizonDays: 365},
		},
		OpeningHours: []eventdata.OpeningHours{
			{LocationID: loc, Weekday: 1, StartTime: "08:30", EndTime: "12:00", StepMinutes: 15, AppointmentTypeIDs: []string{typ, "offline"}},
			{LocationID: loc, Weekday: 7, StartTime: "23:00", EndTime: "24:00", StepMinutes: 7, AppointmentTypeIDs: []string{}},
			{LocationID: other, Weekday: 2, StartTime: "09:00", EndTime: "10:00", StepMinutes: 15},
		},
		Absences: []eventdata.Absence{
			{StartsAt: time.Date(2027, 3, 1, 9, 0, 0, 123456789, time.FixedZone("x", 3600)), EndsAt: time.Date(2027, 3, 2, 0, 0, 0, 1, time.UTC)},
			{StartsAt: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		},
	}
	return agendaOf(p, nil)
}

// canonical is ag with empty slices as nil (the stored form does not tell
// them apart, and nothing reads the difference).
func canonical(ag *Agenda) *Agenda {
	c := *ag
	c.Rules = slices.Clone(c.Rules)
	for i := range c.Rules {
		if len(c.Rules[i].TypeIDs) == 0 {
			c.Rules[i].TypeIDs = nil
		}
	}
	if len(c.Rules) == 0 {
		c.Rules = nil
	}
	if len(c.Types) == 0 {
		c.Types = nil
	}
	if len(c.Absences) == 0 {
		c.Absences = nil
	}
	return &c
}

// TestTermsKeepWhatSlotsDecideWith: an agenda read back from its stored
// terms equals it (zones, invalid rules, negative buffers, instants to the
// nanosecond, UUIDs packed or not), encodes to the same bytes again, and
// sameSlots tells a version change from a change of anything slots read.
func TestTermsKeepWhatSlotsDecideWith(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	now := time.Date(2027, 3, 22, 7, 0, 0, 0, time.UTC)
	var ags []*Agenda
	for i := range 200 {
		ag, _ := randomAgenda(rng, now)
		ag.ID, ag.Version = "p", int64(i)
		ags = append(ags, ag, snapshotAgenda(rng, i))
	}
	ags = append(ags, &Agenda{ID: "empty", Zone: time.UTC})
	for i, ag := range ags {
		b := encodeTerms(ag)
		got, err := decodeTerms(ag.ID, b)
		if err != nil {
			t.Fatalf("agenda %d: %v", i, err)
		}
		if want := canonical(ag); !reflect.DeepEqual(canonical(got), want) {
			t.Fatalf("agenda %d read back differs:\n got %+v\nwant %+v", i, got, want)
		}
		if again := encodeTerms(got); string(again) != string(b) {
			t.Fatalf("agenda %d encodes differently once read back", i)
		}
		for j := range ag.Absences {
			if !got.Absences[j].Start.Equal(ag.Absences[j].Start) || !got.Absences[j].End.Equal(ag.Absences[j].End) {
				t.Fatalf("agenda %d: absence %d is %v, want %v", i, j, got.Absences[j], ag.Absences[j])
			}
		}
		newer := *got
		newer.Version++
		if !sameSlots(got, &newer) {
			t.Fatalf("agenda %d: a new version alone changes the slots", i)
		}
		if len(ag.Types) > 0 {
			changed := *got
			changed.Types = slices.Clone(got.Types)
			changed.Types[0].MinNotice += time.Minute
			if sameSlots(got, &changed) {
				t.Fatalf("agenda %d: a longer notice keeps the slots", i)
			}
		}
	}
	// A snapshot's UUIDs take 16 bytes each.
	ag := snapshotAgenda(rng, 1)
	if n := len(encodeTerms(ag)); n > 200 {
		t.Errorf("a small practice's terms take %d bytes", n)
	}
}

// TestTermsRefuseWhatTheyDidNotWrite: another format, a truncated or a
// lengthened encoding is an error, never another agenda.
func TestTermsRefuseWhatTheyDidNotWrite(t *testing.T) {
	b := encodeTerms(snapshotAgenda(rand.New(rand.NewPCG(1, 1)), 3))
	for n := range len(b) {
		if _, err := decodeTerms("p", b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decode", n, len(b))
		}
	}
	if _, err := decodeTerms("p", append(slices.Clone(b), 0)); err == nil {
		t.Error("a trailing byte decodes")
	}
	other := slices.Clone(b)
	other[0] = termsFormat + 1
	if _, err := decodeTerms("p", other); err == nil {
		t.Error("another format decodes")
	}
}

// FuzzDecodeTerms: whatever the bytes, decoding does not panic, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeTerms(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 5))
	f.Add(encodeTerms(snapshotAgenda(rng, 1)))
	ag, _ := randomAgenda(rng, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	f.Add(encodeTerms(ag))
	f.Fuzz(func(t *testing.T, b []byte) {
		ag, err := decodeTerms("p", b)
		if err != nil {
			return
		}
		if again := encodeTerms(ag); string(again) != string(b) {
			// Only a non-canonical varint or string form may differ.
			back, err := decodeTerms("p", again)
			if err != nil || !sameSlots(back, ag) || back.Version != ag.Version {
				t.Fatalf("accepted bytes read back differently")
			}
		}
	})
}
