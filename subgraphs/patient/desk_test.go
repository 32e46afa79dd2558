package patient_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/patient"
)

// TestDeskPatientsOverHTTP: a secretary records a caller through GraphQL
// and finds them; another practice's secretary gets FORBIDDEN for the list
// and NOT_FOUND for the entity; the internal endpoint answers the record as
// its events carry it, 404 for an unknown or malformed id.
func TestDeskPatientsOverHTTP(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "patient")
	sg, err := patient.New(context.Background(), patient.Deps{Pool: pool, Countries: countries.MustDefault(),
		Verifier: fakeVerifier{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", sg.Handler())
	mux.Handle(patient.DeskPatientRoute, sg.DeskPatientHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	gql := &httptest.Server{URL: srv.URL + "/graphql"}

	practice, other := uuid.NewString(), uuid.NewString()
	ours, theirs := "secretary:s1:"+practice, "secretary:s2:"+other
	res := gqltest.Do(t, gql.URL, ours, `mutation($p: ID!, $in: RecordDeskPatientInput!) { recordDeskPatient(practitionerId: $p, input: $in) {
		created deskPatient { id practitionerId email phone claimed } } }`, map[string]any{"p": practice,
		"in": map[string]any{"firstName": "Léa", "lastName": "Roux", "birthDate": "1975-05-06", "email": "Lea@Example.org", "phone": "+33 6 11 22 33 44"}})
	var rec struct {
		RecordDeskPatient struct {
			Created     bool
			DeskPatient struct {
				ID, PractitionerID, Email, Phone string
				Claimed                          bool
			}
		}
	}
	decode(t, res, &rec)
	d := rec.RecordDeskPatient.DeskPatient
	if !rec.RecordDeskPatient.Created || d.PractitionerID != practice || d.Email != "lea@example.org" || d.Phone != "+33611223344" || d.Claimed {
		t.Fatalf("recorded %+v", rec)
	}

	list := `query($p: ID!, $s: String) { deskPatients(practitionerId: $p, search: $s) { edges { node { id } } pageInfo { hasNextPage } } }`
	var found struct {
		DeskPatients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	decode(t, gqltest.Do(t, gql.URL, ours, list, map[string]any{"p": practice, "s": "léa"}), &found)
	if len(found.DeskPatients.Edges) != 1 || found.DeskPatients.Edges[0].Node.ID != d.ID {
		t.Fatalf("search: %+v", found)
	}
	if codes := gqltest.Do(t, gql.URL, theirs, list, map[string]any{"p": practice}).Codes(); !slices.Equal(codes, []string{"FORBIDDEN"}) {
		t.Fatalf("another practice's list: %v", codes)
	}
	entity := `query($r: [_Any!]!) { _entities(representations: $r) { ... on DeskPatient { id firstName } } }`
	reps := map[string]any{"r": []any{map[string]any{"__typename": "DeskPatient", "id": d.ID}}}
	if codes := gqltest.Do(t, gql.URL, theirs, entity, reps).Codes(); !slices.Equal(codes, []string{"NOT_FOUND"}) {
		t.Fatalf("another practice's entity: %v", codes)
	}
	if res := gqltest.Do(t, gql.URL, ours, entity, reps); len(res.Errors) != 0 {
		t.Fatalf("our entity: %v", res.Errors)
	}

	get := func(id string) (int, eventdata.DeskPatient) {
		t.Helper()
		r, err := http.Get(srv.URL + "/internal/desk-patients/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var snap eventdata.DeskPatient
		if r.StatusCode == http.StatusOK {
			if err := json.NewDecoder(r.Body).Decode(&snap); err != nil {
				t.Fatal(err)
			}
		}
		return r.StatusCode, snap
	}
	if code, snap := get(d.ID); code != http.StatusOK || snap.ID != d.ID || snap.PractitionerID != practice || snap.Version != 1 ||
		snap.Email != "lea@example.org" || snap.BirthDate != "1975-05-06" {
		t.Fatalf("internal endpoint: %d %+v", code, snap)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if code, _ := get(id); code != http.StatusNotFound {
			t.Fatalf("%s: HTTP %d", id, code)
		}
	}
}

func decode(t *testing.T, r *gqlclient.Response, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	b, err := json.Marshal(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
