package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/careslot/careslot/internal/uid"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
)

// registerPractice registers a practitioner with one location and one type
// through the router, with the contract's operations, and returns its ids and
// token.
func registerPractice(t testing.TB, s *stack, first, last string) (id, locationID, typeID, token string) {
	t.Helper()
	var reg struct {
		RegisterPractitioner struct {
			Practitioner struct{ ID, DisplayName string }
		}
	}
	// A new identity of the provider registers its practice: the practice is its account.
	token = s.token(t, auth.RolePractitioner, "pr-"+uid.New())
	s.run(t, token, s.op(t, "RegisterPractitioner"), map[string]any{"input": map[string]any{
		"firstName": first, "lastName": last, "country": "fr", "specialties": []string{"general-practice", "pediatrics"},
		"languages": []string{"fr", "en"}, "registrationNumber": "10101010101", "bio": "Cabinet de quartier",
	}}, &reg)
	id = reg.RegisterPractitioner.Practitioner.ID
	if want := "Dr " + first + " " + last; reg.RegisterPractitioner.Practitioner.DisplayName != want {
		t.Fatalf("displayName %q, want %q", reg.RegisterPractitioner.Practitioner.DisplayName, want)
	}
	var loc struct {
		AddLocation struct {
			Location struct{ ID, Name, TimeZone string }
		}
	}
	s.run(t, token, s.op(t, "AddLocation"), map[string]any{"input": map[string]any{
		"name": "Cabinet Oberkampf", "timeZone": "Europe/Paris",
		"address":     map[string]any{"line1": "12 rue Oberkampf", "postalCode": "75011", "city": "Paris", "country": "fr"},
		"coordinates": map[string]any{"lat": 48.8649, "lon": 2.3738},
	}}, &loc)
	var typ struct {
		SaveAppointmentType struct {
			AppointmentType struct {
				ID              string
				DurationMinutes int
			}
		}
	}
	s.run(t, token, s.op(t, "SaveAppointmentType"), map[string]any{"input": map[string]any{
		"name": "Consultation", "durationMinutes": 20, "visitMode": "IN_PERSON", "newPatientsAllowed": true,
		"onlineBookable": true, "bufferBeforeMinutes": 0, "bufferAfterMinutes": 5, "minNoticeMinutes": 60, "bookingHorizonDays": 60,
	}}, &typ)
	return id, loc.AddLocation.Location.ID, typ.SaveAppointmentType.AppointmentType.ID, token
}

// registerPatient registers a patient through the router and returns id and token.
func registerPatient(t testing.TB, s *stack, first string) (string, string) {
	t.Helper()
	var reg struct {
		RegisterPatient struct {
			Patient struct{ ID, FirstName string }
		}
	}
	// A new identity of the provider registers: the account is bound to it.
	sub := "pa-" + uid.New()
	token := s.token(t, auth.RolePatient, sub)
	s.run(t, token, s.op(t, "RegisterPatient"), map[string]any{"input": map[string]any{
		"firstName": first, "lastName": "Martin", "email": fmt.Sprintf("%s.%d@example.org", first, time.Now().UnixNano()),
		"phone": "+33612345678", "birthDate": "1988-04-12", "country": "fr",
	}}, &reg)
	id := reg.RegisterPatient.Patient.ID
	if id != auth.AccountID(s.cfg.OIDCIssuer, sub) {
		t.Fatalf("the account %s is not the identity's", id)
	}
	return id, token
}

// TestFoundationThroughTheRouter: a practitioner and a patient register and
// read themselves back through the router with their tokens; the wrong token
// gets FORBIDDEN; bad input gets INVALID_INPUT and changes nothing; and the
// changes reach Kafka through the outbox.
func TestFoundationThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Claire", "Dubois")

	// The practice reads itself back, joined across its parts.
	var practice struct {
		MyPractice struct {
			ID          string
			Specialties []struct{ Code, Label string }
			Locations   []struct {
				ID, Name, TimeZone string
				Address            struct{ City string }
			}
			AppointmentTypes []struct {
				ID              string
				DurationMinutes int
			}
		}
	}
	s.run(t, prTok, `{ myPractice { id specialties { code label } locations { id name timeZone address { city } } appointmentTypes { id durationMinutes } } }`, nil, &practice)
	p := practice.MyPractice
	if p.ID != prID || len(p.Locations) != 1 || p.Locations[0].ID != locID || len(p.AppointmentTypes) != 1 || p.AppointmentTypes[0].ID != typeID {
		t.Fatalf("myPractice = %+v", p)
	}
	if p.Specialties[0].Label != "Médecin généraliste" {
		t.Fatalf("specialty label %+v", p.Specialties)
	}

	// The public profile is readable without a token.
	var profile struct {
		Practitioner struct {
			ID        string
			Locations []struct{ Coordinates struct{ Lat, Lon float64 } }
		}
	}
	s.run(t, "", `query($id: ID!) { practitioner(id: $id) { id locations { coordinates { lat lon } } } }`, map[string]any{"id": prID}, &profile)
	if profile.Practitioner.Locations[0].Coordinates.Lat != 48.8649 {
		t.Fatalf("profile %+v", profile)
	}

	// Profile update with the contract operation.
	var upd struct {
		UpdatePracticeProfile struct {
			Practitioner struct {
				Bio                string
				AcceptsNewPatients bool
			}
		}
	}
	s.run(t, prTok, s.op(t, "UpdatePracticeProfile"), map[string]any{"input": map[string]any{"bio": "Nouveau", "acceptsNewPatients": false}}, &upd)
	if upd.UpdatePracticeProfile.Practitioner.Bio != "Nouveau" || upd.UpdatePracticeProfile.Practitioner.AcceptsNewPatients {
		t.Fatalf("update %+v", upd)
	}

	// The patient side.
	paID, paTok := registerPatient(t, s, "Camille")
	var me struct {
		Me struct {
			ID, Email               string
			Relatives               []struct{ ID, FirstName, BirthDate string }
			NotificationPreferences struct{ Email, SMS bool }
		}
	}
	s.run(t, paTok, s.op(t, "AddRelative"), map[string]any{"input": map[string]any{"firstName": "Léo", "lastName": "Martin", "birthDate": "2019-06-01"}}, nil)
	s.run(t, paTok, s.op(t, "SetNotificationPreferences"), map[string]any{"input": map[string]any{"email": true, "sms": false}}, nil)
	s.run(t, paTok, s.op(t, "UpdateMyProfile"), map[string]any{"input": map[string]any{"phone": "+33698765432", "locale": "fr-FR"}}, nil)
	s.run(t, paTok, s.op(t, "MyAccount"), nil, &me)
	if me.Me.ID != paID || len(me.Me.Relatives) != 1 || me.Me.Relatives[0].BirthDate != "2019-06-01" || me.Me.NotificationPreferences.SMS {
		t.Fatalf("me = %+v", me.Me)
	}

	// Wrong tokens: FORBIDDEN, anonymous: UNAUTHENTICATED.
	if codes := s.errorCodes(t, prTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "FORBIDDEN") {
		t.Fatalf("practitioner reading me: %v", codes)
	}
	if codes := s.errorCodes(t, paTok, `{ myPractice { id } }`, nil); !slices.Contains(codes, "FORBIDDEN") {
		t.Fatalf("patient reading myPractice: %v", codes)
	}
	otherID, _, _, otherTok := registerPractice(t, s, "Paul", "Lefebvre")
	if codes := s.errorCodes(t, otherTok, s.op(t, "UpdatePracticeProfile"), map[string]any{"input": map[string]any{"practitionerId": prID, "bio": "hijack"}}); !slices.Contains(codes, "FORBIDDEN") {
		t.Fatalf("another practitioner editing: %v", codes)
	}
	if codes := s.errorCodes(t, "", s.op(t, "MyAccount"), nil); !slices.Contains(codes, "UNAUTHENTICATED") {
		t.Fatalf("anonymous me: %v", codes)
	}
	// A secretary named for the practice may edit it.
	secTok := s.token(t, auth.RoleSecretary, "sec-"+otherID, prID)
	s.run(t, secTok, s.op(t, "UpdatePracticeProfile"), map[string]any{"input": map[string]any{"practitionerId": prID, "bio": "Par le secrétariat"}}, nil)

	// Bad input: INVALID_INPUT, nothing changed.
	if codes := s.errorCodes(t, prTok, s.op(t, "AddLocation"), map[string]any{"input": map[string]any{
		"name": "Annexe", "timeZone": "Paris",
		"address":     map[string]any{"line1": "1 rue X", "postalCode": "75001", "city": "Paris", "country": "fr"},
		"coordinates": map[string]any{"lat": 48.86, "lon": 2.35},
	}}); !slices.Contains(codes, "INVALID_INPUT") {
		t.Fatalf("bad zone: %v", codes)
	}
	if codes := s.errorCodes(t, prTok, s.op(t, "SaveAppointmentType"), map[string]any{"input": map[string]any{
		"name": "X", "durationMinutes": -10, "visitMode": "IN_PERSON", "newPatientsAllowed": true, "onlineBookable": true,
	}}); !slices.Contains(codes, "INVALID_INPUT") {
		t.Fatalf("bad duration: %v", codes)
	}
	s.run(t, prTok, `{ myPractice { locations { id } appointmentTypes { id } } }`, nil, &practice)
	if len(practice.MyPractice.Locations) != 1 || len(practice.MyPractice.AppointmentTypes) != 1 {
		t.Fatalf("bad input changed the practice: %+v", practice.MyPractice)
	}

	// Catalogue operations.
	var cat struct {
		Specialties []struct{ Code, Label string }
	}
	s.run(t, "", s.op(t, "SpecialtyCatalog"), map[string]any{"country": "de"}, &cat)
	if len(cat.Specialties) == 0 || cat.Specialties[0].Label != "Allgemeinmedizin" {
		t.Fatalf("catalog %+v", cat)
	}
	if codes := s.errorCodes(t, "", s.op(t, "SpecialtyCatalog"), map[string]any{"country": "zz"}); !slices.Contains(codes, "INVALID_INPUT") {
		t.Fatalf("unknown country: %v", codes)
	}
	var countries struct {
		Countries []struct {
			Code                      string
			CancellationCutoffMinutes int
		}
	}
	s.run(t, s.token(t, auth.RoleAdmin, "ops"), s.op(t, "Countries"), nil, &countries)
	if len(countries.Countries) < 2 {
		t.Fatalf("countries %+v", countries)
	}

	// The changes reached Kafka through the outbox: the practitioner's events,
	// in order, ending with the newest version.
	assertEventsReachKafka(t, s, events.PractitionerEvents, prID, 5)
	assertEventsReachKafka(t, s, events.PatientEvents, paID, 4)
}

// assertEventsReachKafka consumes topic until it has seen at least n events
// keyed by key, in increasing version order.
func assertEventsReachKafka(t *testing.T, s *stack, topic, key string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.cfg.KafkaBrokers...),
		kgo.ConsumeTopics(kafka.Topic(s.cfg.KafkaTopicPrefix, topic)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var versions []int64
	for len(versions) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: saw %d events for %s, want %d", topic, len(versions), key, n)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != key {
				return
			}
			ev, err := events.Decode(r.Value)
			if err != nil {
				t.Fatalf("bad envelope: %v", err)
			}
			var data struct{ Version int64 }
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			versions = append(versions, data.Version)
		})
	}
	if !slices.IsSorted(versions) {
		t.Fatalf("%s events out of order: %v", topic, versions)
	}
}
