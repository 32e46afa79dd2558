package patient_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/auth/authtest"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/patient"
)

// fakeVerifier accepts "role:subject[:practitioners]" tokens.
type fakeVerifier = authtest.Verifier

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "patient")
	sg, err := patient.New(context.Background(), patient.Deps{
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

const registerOp = `mutation RegisterPatient($input: RegisterPatientInput!) {
  registerPatient(input: $input) { patient { id firstName lastName } }
}`

const myAccountOp = `query MyAccount {
  me {
    id
    firstName
    lastName
    email
    phone
    locale
    relatives { id firstName lastName birthDate }
    notificationPreferences { email sms }
  }
}`

func registerVars(email string) map[string]any {
	return map[string]any{"input": map[string]any{
		"firstName": "Camille", "lastName": "Martin", "email": email, "phone": "+33612345678",
		"birthDate": "1990-04-12", "country": "fr",
	}}
}

// registerPatient registers a new identity's account and returns its id
// and the identity's token.
func registerPatient(t *testing.T, srv *httptest.Server, email string) (string, string) {
	t.Helper()
	sub := "sub-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + email
	token := "patient:" + sub
	r := gqltest.Do(t, srv.URL, token, registerOp, registerVars(email))
	wantCodes(t, "register", r)
	var p struct {
		Patient struct{ ID string } `json:"patient"`
	}
	if err := json.Unmarshal(r.Field("registerPatient"), &p); err != nil || p.Patient.ID != authtest.Account(sub) {
		t.Fatalf("register: %s, %v", r.Field("registerPatient"), err)
	}
	return p.Patient.ID, token
}

func TestGraphQL(t *testing.T) {
	t.Parallel()
	srv := newServer(t)

	// Bad input is INVALID_INPUT naming the field.
	vars := registerVars("not-an-email")
	wantCodes(t, "anonymous registration", gqltest.Do(t, srv.URL, "", registerOp, registerVars("anon@example.fr")), "UNAUTHENTICATED")
	r := gqltest.Do(t, srv.URL, "patient:bad-email", registerOp, vars)
	wantCodes(t, "bad email", r, "INVALID_INPUT")
	if r.Errors[0].Extensions["field"] != "email" {
		t.Errorf("field = %v, want email", r.Errors[0].Extensions["field"])
	}

	alice, aliceToken := registerPatient(t, srv, "alice@example.fr")
	bob, bobToken := registerPatient(t, srv, "bob@example.fr")
	wantCodes(t, "duplicate email", gqltest.Do(t, srv.URL, "patient:someone-else", registerOp, registerVars("ALICE@example.fr")), "INVALID_INPUT")
	wantCodes(t, "an identity registering twice", gqltest.Do(t, srv.URL, aliceToken, registerOp, registerVars("alice2@example.fr")), "CONFLICT")
	// A token whose subject is alice's account id is another identity: it reaches nothing of hers.
	wantCodes(t, "subject = someone's id", gqltest.Do(t, srv.URL, "patient:"+alice, myAccountOp, nil), "NOT_FOUND")

	// me: anonymous, another role, the patient.
	wantCodes(t, "anonymous me", gqltest.Do(t, srv.URL, "", myAccountOp, nil), "UNAUTHENTICATED")
	wantCodes(t, "practitioner me", gqltest.Do(t, srv.URL, "practitioner:"+alice, myAccountOp, nil), "FORBIDDEN")

	r = gqltest.Do(t, srv.URL, aliceToken, `mutation($input: AddRelativeInput!) { addRelative(input: $input) { relative { id firstName lastName birthDate } } }`,
		map[string]any{"input": map[string]any{"firstName": "Léa", "lastName": "Martin", "birthDate": "2018-06-01"}})
	wantCodes(t, "add relative", r)
	r = gqltest.Do(t, srv.URL, aliceToken, `mutation($input: NotificationPreferencesInput!) { setNotificationPreferences(input: $input) { patient { id notificationPreferences { email sms } } } }`,
		map[string]any{"input": map[string]any{"email": true, "sms": false}})
	wantCodes(t, "preferences", r)
	r = gqltest.Do(t, srv.URL, aliceToken, `mutation($input: UpdateMyProfileInput!) { updateMyProfile(input: $input) { patient { id phone locale } } }`,
		map[string]any{"input": map[string]any{"phone": "0612"}})
	wantCodes(t, "bad phone", r, "INVALID_INPUT")
	r = gqltest.Do(t, srv.URL, aliceToken, `mutation($input: UpdateMyProfileInput!) { updateMyProfile(input: $input) { patient { id phone locale } } }`,
		map[string]any{"input": map[string]any{"locale": "en-GB"}})
	wantCodes(t, "update", r)

	r = gqltest.Do(t, srv.URL, aliceToken, myAccountOp, nil)
	wantCodes(t, "me", r)
	var me struct {
		ID, Email, Locale string
		Phone             *string
		Relatives         []struct{ ID, FirstName, BirthDate string }
		Prefs             struct{ Email, Sms bool } `json:"notificationPreferences"`
	}
	if err := json.Unmarshal(r.Field("me"), &me); err != nil {
		t.Fatal(err)
	}
	if me.ID != alice || me.Email != "alice@example.fr" || me.Locale != "en-GB" || me.Phone == nil || *me.Phone != "+33612345678" ||
		len(me.Relatives) != 1 || me.Relatives[0].FirstName != "Léa" || me.Relatives[0].BirthDate != "2018-06-01" ||
		!me.Prefs.Email || me.Prefs.Sms {
		t.Fatalf("me = %s", r.Field("me"))
	}
	relativeID := me.Relatives[0].ID

	// Entity references: the router may resolve only the caller's own account
	// and relatives; anything else is null with FORBIDDEN.
	const entities = `query($reps: [_Any!]!) { _entities(representations: $reps) {
		... on Patient { id email } ... on Relative { id firstName } } }`
	reps := map[string]any{"reps": []any{
		map[string]any{"__typename": "Patient", "id": alice},
		map[string]any{"__typename": "Patient", "id": bob},
		map[string]any{"__typename": "Relative", "id": relativeID},
	}}
	r = gqltest.Do(t, srv.URL, aliceToken, entities, reps)
	var list []map[string]any
	if err := json.Unmarshal(r.Field("_entities"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0]["email"] != "alice@example.fr" || list[1] != nil || list[2]["firstName"] != "Léa" {
		t.Fatalf("entities for alice = %s", r.Field("_entities"))
	}
	wantCodes(t, "alice's entities", r, "FORBIDDEN")

	r = gqltest.Do(t, srv.URL, bobToken, entities, reps)
	if err := json.Unmarshal(r.Field("_entities"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0] != nil || list[1]["email"] != "bob@example.fr" || list[2] != nil {
		t.Fatalf("entities for bob = %s", r.Field("_entities"))
	}
	wantCodes(t, "bob's entities", r, "FORBIDDEN", "FORBIDDEN")

	r = gqltest.Do(t, srv.URL, "", entities, reps)
	if strings.Contains(string(r.Field("_entities")), "example.fr") || strings.Contains(string(r.Field("_entities")), "Léa") {
		t.Fatalf("anonymous entities leaked data: %s", r.Field("_entities"))
	}
	for _, c := range r.Codes() {
		if c != "UNAUTHENTICATED" {
			t.Fatalf("anonymous entities: codes %v", r.Codes())
		}
	}
	if len(r.Codes()) == 0 {
		t.Fatal("anonymous entities: no error")
	}
}
