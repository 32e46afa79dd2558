package practitioner_test

import (
	"context"
	"encoding/json"
	"github.com/google/uuid"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/auth/authtest"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/practitioner"
)

// fakeVerifier accepts "role:subject[:practitioners]" tokens.
type fakeVerifier = authtest.Verifier

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "practitioner")
	if err := practitioner.EnsurePartitions(context.Background(), pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := practitioner.New(context.Background(), practitioner.Deps{
		Pool: pool, Countries: countries.MustDefault(), Verifier: fakeVerifier{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sg.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func wantCodes(t *testing.T, what string, r *gqlclient.Response, codes ...string) {
	t.Helper()
	if strings.Join(r.Codes(), ",") != strings.Join(codes, ",") {
		t.Fatalf("%s: error codes = %v (%+v), want %v", what, r.Codes(), r.Errors, codes)
	}
}

func decode(t *testing.T, r *gqlclient.Response, field string, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Field(field), v); err != nil {
		t.Fatalf("%s: %s: %v", field, r.Field(field), err)
	}
}

// Operations of the practitioner portal and operations console contracts.
const (
	myPracticeOp = `query MyPractice {
  myPractice {
    id
    displayName
    bio
    languages
    acceptsNewPatients
    specialties { code label }
    locations { id name timeZone address { line1 postalCode city country } coordinates { lat lon } }
    appointmentTypes {
      id name durationMinutes visitMode newPatientsAllowed onlineBookable
      bufferBeforeMinutes bufferAfterMinutes minNoticeMinutes bookingHorizonDays
    }
    openingHours { id location { id } weekday startTime endTime stepMinutes appointmentTypes { id } }
    absences { id startsAt endsAt reason }
  }
}`
	registerOp = `mutation RegisterPractitioner($input: RegisterPractitionerInput!) {
  registerPractitioner(input: $input) { practitioner { id displayName } }
}`
	addLocationOp = `mutation AddLocation($input: AddLocationInput!) {
  addLocation(input: $input) { location { id name timeZone } }
}`
	saveTypeOp = `mutation SaveAppointmentType($input: SaveAppointmentTypeInput!) {
  saveAppointmentType(input: $input) { appointmentType { id name durationMinutes } }
}`
	setOpeningHoursOp = `mutation SetOpeningHours($input: SetOpeningHoursInput!) {
  setOpeningHours(input: $input) { practitioner { id openingHours { id weekday startTime endTime } } }
}`
	addAbsenceOp = `mutation AddAbsence($input: AddAbsenceInput!) {
  addAbsence(input: $input) { absence { id startsAt endsAt reason } }
}`
	removeAbsenceOp = `mutation RemoveAbsence($id: ID!) {
  removeAbsence(id: $id) { removed }
}`
	importOp = `mutation ImportPractitioners($input: [ImportPractitionerInput!]!) {
  importPractitioners(input: $input) { imported failed { index message } }
}`
)

type rule struct {
	ID        string `json:"id"`
	Location  struct{ ID string }
	Weekday   string                `json:"weekday"`
	StartTime string                `json:"startTime"`
	EndTime   string                `json:"endTime"`
	Step      int                   `json:"stepMinutes"`
	Types     []struct{ ID string } `json:"appointmentTypes"`
}

type absence struct {
	ID       string  `json:"id"`
	StartsAt string  `json:"startsAt"`
	EndsAt   string  `json:"endsAt"`
	Reason   *string `json:"reason"`
}

func setUp(t *testing.T, srv *httptest.Server) (id, token, loc, typ string) {
	t.Helper()
	sub := "claire-" + uuid.NewString()
	token = "practitioner:" + sub
	vars := map[string]any{"input": map[string]any{
		"firstName": "Claire", "lastName": "Dubois", "country": "fr", "specialties": []string{"general-practice"},
	}}
	wantCodes(t, "anonymous register", gqltest.Do(t, srv.URL, "", registerOp, vars), "UNAUTHENTICATED")
	r := gqltest.Do(t, srv.URL, token, registerOp, vars)
	wantCodes(t, "register", r)
	var reg struct{ Practitioner struct{ ID string } }
	decode(t, r, "registerPractitioner", &reg)
	if id = reg.Practitioner.ID; id != authtest.Account(sub) {
		t.Fatalf("the practice %s is not the identity's account", id)
	}
	wantCodes(t, "register twice", gqltest.Do(t, srv.URL, token, registerOp, vars), "CONFLICT")

	r = gqltest.Do(t, srv.URL, token, addLocationOp, map[string]any{"input": map[string]any{
		"name": "Cabinet", "address": map[string]any{"line1": "1 rue X", "postalCode": "75011", "city": "Paris", "country": "fr"},
		"coordinates": map[string]any{"lat": 48.86, "lon": 2.37}, "timeZone": "Europe/Paris",
	}})
	wantCodes(t, "add location", r)
	var l struct{ Location struct{ ID string } }
	decode(t, r, "addLocation", &l)

	r = gqltest.Do(t, srv.URL, token, saveTypeOp, map[string]any{"input": map[string]any{
		"name": "Consultation", "durationMinutes": 20, "visitMode": "IN_PERSON", "newPatientsAllowed": true, "onlineBookable": true,
	}})
	wantCodes(t, "save type", r)
	var a struct{ AppointmentType struct{ ID string } }
	decode(t, r, "saveAppointmentType", &a)
	return id, token, l.Location.ID, a.AppointmentType.ID
}

func TestPortalScheduling(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	id, token, loc, typ := setUp(t, srv)

	hours := map[string]any{"input": map[string]any{"locationId": loc, "rules": []map[string]any{
		{"weekday": "MONDAY", "startTime": "09:00", "endTime": "12:00", "stepMinutes": 15, "appointmentTypeIds": []string{typ}},
		{"weekday": "FRIDAY", "startTime": "20:00", "endTime": "24:00", "stepMinutes": 20, "appointmentTypeIds": []string{typ}},
	}}}
	r := gqltest.Do(t, srv.URL, token, setOpeningHoursOp, hours)
	wantCodes(t, "set opening hours", r)
	var set struct {
		Practitioner struct {
			ID           string
			OpeningHours []rule
		}
	}
	decode(t, r, "setOpeningHours", &set)
	if set.Practitioner.ID != id || len(set.Practitioner.OpeningHours) != 2 {
		t.Fatalf("set: %+v", set)
	}
	if h := set.Practitioner.OpeningHours[1]; h.Weekday != "FRIDAY" || h.StartTime != "20:00" || h.EndTime != "24:00" {
		t.Fatalf("rule %+v", h)
	}

	// Bad input: INVALID_INPUT naming the field; a malformed time fails
	// validation of the variables.
	bad := map[string]any{"input": map[string]any{"locationId": loc, "rules": []map[string]any{
		{"weekday": "MONDAY", "startTime": "12:00", "endTime": "09:00", "stepMinutes": 15, "appointmentTypeIds": []string{typ}},
	}}}
	r = gqltest.Do(t, srv.URL, token, setOpeningHoursOp, bad)
	wantCodes(t, "end before start", r, "INVALID_INPUT")
	if f := r.Errors[0].Extensions["field"]; f != "rules[0].endTime" {
		t.Fatalf("field = %v", f)
	}
	bad["input"].(map[string]any)["rules"].([]map[string]any)[0]["startTime"] = "9h"
	r = gqltest.Do(t, srv.URL, token, setOpeningHoursOp, bad)
	if len(r.Errors) == 0 {
		t.Fatal("a malformed LocalTime was accepted")
	}
	// Another practitioner, a patient, a secretary of someone else: refused.
	wantCodes(t, "other practitioner", gqltest.Do(t, srv.URL, "practitioner:0190a0b0-0000-7000-8000-000000000000", setOpeningHoursOp,
		map[string]any{"input": map[string]any{"practitionerId": id, "locationId": loc, "rules": []any{}}}), "FORBIDDEN")
	wantCodes(t, "secretary of another", gqltest.Do(t, srv.URL, "secretary:s2:0190a0b0-0000-7000-8000-000000000000", setOpeningHoursOp,
		map[string]any{"input": map[string]any{"practitionerId": id, "locationId": loc, "rules": []any{}}}), "FORBIDDEN")
	wantCodes(t, "anonymous", gqltest.Do(t, srv.URL, "", setOpeningHoursOp, hours), "UNAUTHENTICATED")

	// Absences.
	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r = gqltest.Do(t, srv.URL, "secretary:s1:"+id, addAbsenceOp, map[string]any{"input": map[string]any{
		"startsAt": starts.Format(time.RFC3339), "endsAt": starts.Add(72 * time.Hour).Format(time.RFC3339), "reason": "Congrès",
	}})
	wantCodes(t, "add absence", r)
	var added struct{ Absence absence }
	decode(t, r, "addAbsence", &added)
	r = gqltest.Do(t, srv.URL, token, addAbsenceOp, map[string]any{"input": map[string]any{
		"startsAt": "2020-01-01T09:00:00+01:00", "endsAt": "2020-01-02T09:00:00+01:00",
	}})
	wantCodes(t, "absence in the past", r, "INVALID_INPUT")

	// The portal's MyPractice query, as the practitioner and as their secretary.
	for _, tok := range []string{token, "secretary:s1:" + id} {
		r = gqltest.Do(t, srv.URL, tok, myPracticeOp, nil)
		wantCodes(t, "my practice", r)
		var mine struct {
			ID           string
			Locations    []struct{ ID string }
			OpeningHours []rule
			Absences     []absence
		}
		decode(t, r, "myPractice", &mine)
		if mine.ID != id || len(mine.OpeningHours) != 2 || len(mine.Absences) != 1 {
			t.Fatalf("my practice: %+v", mine)
		}
		h := mine.OpeningHours[0]
		if h.Location.ID != loc || h.Weekday != "MONDAY" || h.StartTime != "09:00" || h.EndTime != "12:00" || h.Step != 15 ||
			len(h.Types) != 1 || h.Types[0].ID != typ {
			t.Fatalf("rule %+v", h)
		}
		if a := mine.Absences[0]; a.ID != added.Absence.ID || a.Reason == nil || *a.Reason != "Congrès" || a.StartsAt != starts.Format(time.RFC3339) {
			t.Fatalf("absence %+v", a)
		}
	}

	// The public profile shows opening hours to anyone, absences to the practice only.
	const publicOp = `query($id: ID!) { practitioner(id: $id) { id openingHours { weekday } } }`
	r = gqltest.Do(t, srv.URL, "", publicOp, map[string]any{"id": id})
	wantCodes(t, "public opening hours", r)
	const absencesOp = `query($id: ID!) { practitioner(id: $id) { id absences { id } } }`
	wantCodes(t, "anonymous absences", gqltest.Do(t, srv.URL, "", absencesOp, map[string]any{"id": id}), "UNAUTHENTICATED")
	wantCodes(t, "patient absences", gqltest.Do(t, srv.URL, "patient:x", absencesOp, map[string]any{"id": id}), "FORBIDDEN")
	wantCodes(t, "other practitioner's absences", gqltest.Do(t, srv.URL, "practitioner:0190a0b0-0000-7000-8000-000000000000", absencesOp, map[string]any{"id": id}), "FORBIDDEN")
	wantCodes(t, "own absences", gqltest.Do(t, srv.URL, token, absencesOp, map[string]any{"id": id}))

	// Removing: NOT_FOUND for another practice, then removed.
	wantCodes(t, "remove other's", gqltest.Do(t, srv.URL, "practitioner:0190a0b0-0000-7000-8000-000000000000", removeAbsenceOp,
		map[string]any{"id": added.Absence.ID}), "NOT_FOUND")
	r = gqltest.Do(t, srv.URL, token, removeAbsenceOp, map[string]any{"id": added.Absence.ID})
	wantCodes(t, "remove", r)
	if string(r.Field("removeAbsence")) != `{"removed":true}` {
		t.Fatalf("remove: %s", r.Field("removeAbsence"))
	}
}

func TestOperationsImport(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	row := func(ext, zone string) map[string]any {
		return map[string]any{
			"externalId": ext, "country": "fr", "firstName": "Jeanne", "lastName": "Martin", "specialties": []string{"dentistry"},
			"locations": []map[string]any{{"name": "Cabinet", "timeZone": zone,
				"address":     map[string]any{"line1": "1 rue X", "postalCode": "69001", "city": "Lyon", "country": "fr"},
				"coordinates": map[string]any{"lat": 45.76, "lon": 4.83}}},
			"appointmentTypes": []map[string]any{{"key": "c", "name": "Consultation", "durationMinutes": 30, "visitMode": "IN_PERSON",
				"newPatientsAllowed": true, "onlineBookable": true}},
			"openingHours": []map[string]any{{"locationIndex": 0, "weekday": "TUESDAY", "startTime": "08:30", "endTime": "12:00",
				"stepMinutes": 30, "appointmentTypeKeys": []string{"c"}}},
		}
	}
	input := map[string]any{"input": []any{row("x-1", "Europe/Paris"), row("x-2", "Paris")}}
	wantCodes(t, "practitioner", gqltest.Do(t, srv.URL, "practitioner:p", importOp, input), "FORBIDDEN")
	wantCodes(t, "anonymous", gqltest.Do(t, srv.URL, "", importOp, input), "UNAUTHENTICATED")
	for range 2 { // the second run updates
		r := gqltest.Do(t, srv.URL, "admin:ops", importOp, input)
		wantCodes(t, "import", r)
		var res struct {
			Imported int
			Failed   []struct {
				Index   int
				Message string
			}
		}
		decode(t, r, "importPractitioners", &res)
		if res.Imported != 1 || len(res.Failed) != 1 || res.Failed[0].Index != 1 || !strings.HasPrefix(res.Failed[0].Message, "locations[0].timeZone: ") {
			t.Fatalf("import: %+v", res)
		}
	}
}
