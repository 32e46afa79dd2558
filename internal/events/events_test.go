package events_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
)

type booked struct {
	AppointmentID string `json:"appointmentId"`
	Start         string `json:"start"`
}

func TestNewAndDecode(t *testing.T) {
	typ := events.TypeName("booking", "AppointmentBooked", 1)
	if typ != "careslot.booking.AppointmentBooked.v1" {
		t.Fatalf("TypeName = %q", typ)
	}
	before := time.Now().UTC()
	ev, err := events.New(events.Source("booking"), typ, "prac-1", booked{"a-1", "2030-01-02T09:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(ev.ID)
	if err != nil || id.Version() != 7 {
		t.Fatalf("id %q is not a UUIDv7 (%v)", ev.ID, err)
	}
	if ev.Time.Location() != time.UTC || ev.Time.Before(before.Add(-time.Second)) {
		t.Fatalf("time %v", ev.Time)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("encoded envelope lacks %q: %s", k, b)
		}
	}
	got, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ev.ID || got.Type != typ || got.Subject != "prac-1" || !got.Time.Equal(ev.Time) {
		t.Fatalf("round trip: got %+v, want %+v", got, ev)
	}
	var d booked
	if err := got.DataAs(&d); err != nil || d.AppointmentID != "a-1" {
		t.Fatalf("DataAs = %+v, %v", d, err)
	}
}

func TestNewWithoutData(t *testing.T) {
	ev, err := events.New("/careslot/patient", "careslot.patient.PatientErased.v1", "p-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Data != nil || ev.DataContentType != "" {
		t.Fatalf("unexpected data: %+v", ev)
	}
	if _, err := events.New("", "x", "", nil); err == nil {
		t.Fatal("New without source succeeded")
	}
}

// TestEncodeWritesWhatTheStandardEncoderWrites: Encode writes the data New
// checked as it is; any other data (changed afterwards, or from Decode) is
// compacted and validated as json.Marshal would.
func TestEncodeWritesWhatTheStandardEncoderWrites(t *testing.T) {
	typ := events.TypeName("practitioner", "PracticeImported", 1)
	fromValue, err := events.New("/careslot/practitioner", typ, "prac-1", map[string]any{"bio": "Dr <A> & co", "n": []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	fromRaw, err := events.New("/careslot/practitioner", typ, "", json.RawMessage(` { "a" : [ 1 , 2 ] } `))
	if err != nil {
		t.Fatal(err)
	}
	changed := fromRaw
	changed.Data = json.RawMessage(`{ "b": true }`)
	decoded, err := events.Decode([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data": { "c" : null }}`))
	if err != nil {
		t.Fatal(err)
	}
	noData, err := events.New("/careslot/patient", "careslot.patient.PatientErased.v1", "p-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]events.Envelope{"from a value": fromValue, "from raw JSON": fromRaw,
		"data changed after New": changed, "decoded": decoded, "without data": noData} {
		got, err := ev.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("%s: Encode = %s, want %s", name, got, want)
		}
		if !json.Valid(got) || strings.ContainsAny(string(got), " \n") && name != "from a value" {
			t.Errorf("%s: Encode = %s, not compact JSON", name, got)
		}
	}
	if _, err := events.New("/s", typ, "", []byte(`{"a":`)); err == nil {
		t.Error("New accepted data that is not JSON")
	}
	bad := fromRaw
	bad.Data = json.RawMessage(`{"a":`)
	if _, err := bad.Encode(); err == nil {
		t.Error("Encode accepted data that is not JSON")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     `{`,
		"no id":        `{"specversion":"1.0","source":"/s","type":"t"}`,
		"no source":    `{"specversion":"1.0","id":"1","type":"t"}`,
		"no type":      `{"specversion":"1.0","id":"1","source":"/s"}`,
		"wrong spec":   `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`,
		"xml data":     `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/xml","data":"<a/>"}`,
		"bad time":     `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}`,
		"spec missing": `{"id":"1","source":"/s","type":"t"}`,
	} {
		if _, err := events.Decode([]byte(in)); err == nil {
			t.Errorf("%s: Decode(%s) succeeded", name, in)
		} else if !strings.HasPrefix(err.Error(), "events:") {
			t.Errorf("%s: error %q lacks package prefix", name, err)
		}
	}
	if _, err := events.Decode([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`)); err != nil {
		t.Errorf("minimal envelope: %v", err)
	}
}

func TestTopics(t *testing.T) {
	if len(events.AllTopics) != 4 {
		t.Fatalf("AllTopics = %v", events.AllTopics)
	}
}

// BenchmarkDecodePractice is what every consumer of practitioner-events pays
// per event before its handler's own work: the envelope, then its data, for
// a practice with two places, three appointment types and a week of hours.
func BenchmarkDecodePractice(b *testing.B) {
	p := eventdata.Practitioner{ID: uuid.NewString(), Version: 3, Country: "FR", FirstName: "Camille", LastName: "Martin",
		DisplayName: "Dr Camille Martin", Specialties: []string{"general-practice", "paediatrics"}, Languages: []string{"fr", "en"},
		AcceptsNewPatients: true}
	for i := range 2 {
		p.Locations = append(p.Locations, eventdata.Location{ID: uuid.NewString(), Name: "Cabinet", Line1: "12 rue de la Paix",
			PostalCode: "75002", City: "Paris", Country: "FR", Lat: 48.86 + float64(i), Lon: 2.33, TimeZone: "Europe/Paris"})
	}
	var types []string
	for range 3 {
		t := eventdata.AppointmentType{ID: uuid.NewString(), Name: "Consultation", DurationMinutes: 20, VisitMode: "IN_PERSON",
			NewPatientsAllowed: true, OnlineBookable: true, MinNoticeMinutes: 60, BookingHorizonDays: 90}
		p.AppointmentTypes = append(p.AppointmentTypes, t)
		types = append(types, t.ID)
	}
	for d := 1; d <= 5; d++ {
		for _, span := range [][2]string{{"08:30", "12:30"}, {"14:00", "19:00"}} {
			p.OpeningHours = append(p.OpeningHours, eventdata.OpeningHours{ID: uuid.NewString(), LocationID: p.Locations[d%2].ID,
				Weekday: d, StartTime: span[0], EndTime: span[1], StepMinutes: 10, AppointmentTypeIDs: types})
		}
	}
	ev, err := events.New(events.Source("practitioner"), events.TypeName("practitioner", "PractitionerUpdated", 1), p.ID, p)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := ev.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := events.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		var back eventdata.Practitioner
		if err := got.DataAs(&back); err != nil || back.ID != p.ID || len(back.OpeningHours) != 10 {
			b.Fatal(err, back.ID)
		}
	}
}
