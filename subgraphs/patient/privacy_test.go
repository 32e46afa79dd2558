package patient_test

import (
	"context"
	"encoding/json"
	"github.com/careslot/careslot/internal/auth/authtest"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/gqltest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/patient"
)

const exportOp = `mutation ExportMyData { exportMyData { data } }`
const deleteOp = `mutation DeleteMyAccount { deleteMyAccount { deleted } }`

// fakeSource is another service's export endpoint: it answers only with a
// patient's bearer token, with a document naming the token's subject.
type fakeSource struct {
	mu     sync.Mutex
	fail   bool
	tokens []string
}

func (f *fakeSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != export.PersonalDataPath || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.tokens = append(f.tokens, token)
	subject, ok := strings.CutPrefix(token, "patient:")
	switch {
	case f.fail:
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
	case !ok:
		http.Error(w, `{"error":"unauthenticated"}`, http.StatusUnauthorized)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"patientId": authtest.Account(subject), "items": []string{"x"}})
	}
}

func newPrivacyServer(t *testing.T, sources map[string]string) *httptest.Server {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "patient")
	sg, err := patient.New(context.Background(), patient.Deps{
		Pool: pool, Countries: countries.MustDefault(), Verifier: fakeVerifier{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ExportSources: sources,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sg.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestGraphQLExportMyData(t *testing.T) {
	t.Parallel()
	booking, notification := &fakeSource{}, &fakeSource{}
	bsrv, nsrv := httptest.NewServer(booking), httptest.NewServer(notification)
	defer bsrv.Close()
	defer nsrv.Close()
	srv := newPrivacyServer(t, map[string]string{"booking": bsrv.URL, "notification": nsrv.URL + "/"})

	alice, token := registerPatient(t, srv, "alice@example.fr")
	r := gqltest.Do(t, srv.URL, token, `mutation($input: AddRelativeInput!) { addRelative(input: $input) { relative { id } } }`,
		map[string]any{"input": map[string]any{"firstName": "Léa", "lastName": "Martin", "birthDate": "2018-06-01"}})
	wantCodes(t, "add relative", r)

	r = gqltest.Do(t, srv.URL, token, exportOp, nil)
	wantCodes(t, "export", r)
	var payload struct {
		Data struct {
			Format, Subject string
			Services        map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(r.Field("exportMyData"), &payload); err != nil {
		t.Fatal(err)
	}
	d := payload.Data
	if d.Format != "careslot-export/1" || d.Subject != alice || len(d.Services) != 3 {
		t.Fatalf("export = %s", r.Field("exportMyData"))
	}
	for _, want := range []string{`"email":"alice@example.fr"`, `"firstName":"Léa"`, `"notificationPreferences"`} {
		if !strings.Contains(string(d.Services["patient"]), want) {
			t.Errorf("patient part lacks %s: %s", want, d.Services["patient"])
		}
	}
	for name, part := range map[string]json.RawMessage{"booking": d.Services["booking"], "notification": d.Services["notification"]} {
		var doc struct{ PatientID string }
		if err := json.Unmarshal(part, &doc); err != nil || doc.PatientID != alice {
			t.Errorf("%s part = %s", name, part)
		}
	}
	// Each source got the caller's own token.
	for _, f := range []*fakeSource{booking, notification} {
		if len(f.tokens) != 1 || f.tokens[0] != token {
			t.Errorf("tokens forwarded = %v", f.tokens)
		}
	}

	// Only a patient, for their own account.
	wantCodes(t, "anonymous export", gqltest.Do(t, srv.URL, "", exportOp, nil), "UNAUTHENTICATED")
	wantCodes(t, "practitioner export", gqltest.Do(t, srv.URL, "practitioner:"+alice, exportOp, nil), "FORBIDDEN")

	// A source that fails fails the export, with a clear error and no data.
	notification.mu.Lock()
	notification.fail = true
	notification.mu.Unlock()
	r = gqltest.Do(t, srv.URL, token, exportOp, nil)
	wantCodes(t, "export with a failing source", r, "INTERNAL")
	if r.Errors[0].Extensions["reason"] != "EXPORT_INCOMPLETE" || !strings.Contains(r.Errors[0].Message, "notification answered HTTP 503") {
		t.Fatalf("error = %+v", r.Errors[0])
	}
	if string(r.Field("exportMyData")) != "" && string(r.Field("exportMyData")) != "null" {
		t.Fatalf("partial data: %s", r.Field("exportMyData"))
	}
	// A source that is not there at all.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	srv2 := newPrivacyServer(t, map[string]string{"booking": downURL})
	_, bobToken := registerPatient(t, srv2, "bob@example.fr")
	r = gqltest.Do(t, srv2.URL, bobToken, exportOp, nil)
	wantCodes(t, "export with a source down", r, "INTERNAL")
	if !strings.Contains(r.Errors[0].Message, "booking did not answer") || strings.Contains(r.Errors[0].Message, "127.0.0.1") {
		t.Fatalf("error = %+v", r.Errors[0])
	}
}

func TestGraphQLDeleteMyAccount(t *testing.T) {
	t.Parallel()
	srv := newPrivacyServer(t, nil)
	alice, token := registerPatient(t, srv, "alice@example.fr")
	_, bobToken := registerPatient(t, srv, "bob@example.fr")

	wantCodes(t, "anonymous delete", gqltest.Do(t, srv.URL, "", deleteOp, nil), "UNAUTHENTICATED")
	wantCodes(t, "practitioner delete", gqltest.Do(t, srv.URL, "practitioner:"+alice, deleteOp, nil), "FORBIDDEN")

	r := gqltest.Do(t, srv.URL, token, deleteOp, nil)
	wantCodes(t, "delete", r)
	if string(r.Field("deleteMyAccount")) != `{"deleted":true}` {
		t.Fatalf("delete = %s", r.Field("deleteMyAccount"))
	}
	// The token's subject is gone: me and a second delete are NOT_FOUND.
	wantCodes(t, "me after delete", gqltest.Do(t, srv.URL, token, myAccountOp, nil), "NOT_FOUND")
	wantCodes(t, "delete again", gqltest.Do(t, srv.URL, token, deleteOp, nil), "NOT_FOUND")
	// Bob is untouched; alice's email is free again.
	wantCodes(t, "bob's me", gqltest.Do(t, srv.URL, bobToken, myAccountOp, nil))
	if again, _ := registerPatient(t, srv, "alice@example.fr"); again == alice {
		t.Fatal("another identity got the erased id")
	}
	// The same identity may register again: the same account id, a new account.
	wantCodes(t, "the erased identity registers again", gqltest.Do(t, srv.URL, token, registerOp, registerVars("alice.back@example.fr")))
	wantCodes(t, "me again", gqltest.Do(t, srv.URL, token, myAccountOp, nil))
}
