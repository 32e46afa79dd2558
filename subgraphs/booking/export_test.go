package booking_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/auth/authtest"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/subgraphs/booking"
)

// GET /internal/export answers, with a patient's token, every appointment and
// waitlist entry of that patient and nobody else's.
func TestExportHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, bob := f.patient(t, "Alice"), f.patient(t, "Bob")
	for i, start := range []int{9, 10, 11} {
		r := gqltest.Do(t, f.srv.URL, "patient:"+alice, bookOp, bookVars(f, slotAt(start, 0), "k"+string(rune('a'+i))))
		if len(r.Errors) > 0 {
			t.Fatalf("book: %+v", r.Errors)
		}
	}
	if r := gqltest.Do(t, f.srv.URL, "patient:"+bob, bookOp, bookVars(f, slotAt(14, 0), "bob")); len(r.Errors) > 0 {
		t.Fatalf("book: %+v", r.Errors)
	}
	join := `mutation($input: JoinWaitlistInput!) { joinWaitlist(input: $input) { entry { id status } } }`
	if r := gqltest.Do(t, f.srv.URL, "patient:"+alice, join, map[string]any{"input": map[string]any{"practitionerId": f.practitioner,
		"appointmentTypeId": f.typeID, "latestDate": slotAt(9, 0).AddDate(0, 0, 7).Format(time.DateOnly), "weekdays": []string{"MONDAY"}}}); len(r.Errors) > 0 {
		t.Fatalf("join: %+v", r.Errors)
	}
	srv := httptest.NewServer(f.sg.ExportHandler())
	defer srv.Close()
	get := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+booking.ExportPath, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	code, body := get("patient:" + alice)
	list, _ := body["appointments"].([]any)
	if code != http.StatusOK || body["patientId"] != authtest.Account(alice) || len(list) != 3 {
		t.Fatalf("export = %d %v", code, body)
	}
	for _, a := range list {
		if a.(map[string]any)["patientId"] != authtest.Account(alice) {
			t.Fatalf("someone else's appointment: %v", a)
		}
	}
	if w, _ := body["waitlist"].([]any); len(w) != 1 || w[0].(map[string]any)["status"] != "WAITING" ||
		w[0].(map[string]any)["patientId"] != authtest.Account(alice) {
		t.Fatalf("the waitlist in the export: %v", body["waitlist"])
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", code)
	}
	if code, _ := get("practitioner:" + f.prSub); code != http.StatusForbidden {
		t.Fatalf("practitioner: %d", code)
	}
	if code, body := get("patient:" + uuid.NewString()); code != http.StatusOK || len(body["appointments"].([]any)) != 0 ||
		len(body["waitlist"].([]any)) != 0 {
		t.Fatalf("a stranger: %d %v", code, body)
	}
}
