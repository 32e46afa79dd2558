package practitioner_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/practitioner"
)

// TestPracticeSnapshotEndpoint: GET /internal/practices/{id} answers the
// practice exactly as its latest event carries it, version included, and
// follows each change; an unknown or malformed id is 404.
func TestPracticeSnapshotEndpoint(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "practitioner")
	if err := practitioner.EnsurePartitions(context.Background(), pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := practitioner.New(context.Background(), practitioner.Deps{Pool: pool, Countries: countries.MustDefault(),
		Verifier: fakeVerifier{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", sg.Handler())
	mux.Handle(practitioner.PracticeRoute, sg.PracticeHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	get := func(id string) (int, []byte) {
		t.Helper()
		res, err := http.Get(srv.URL + "/internal/practices/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, body
	}
	// sameAsLastEvent checks the answer against the data of the practice's
	// latest event in the outbox, field for field (as JSON).
	sameAsLastEvent := func(id string, body []byte) eventdata.Practitioner {
		t.Helper()
		var same bool
		if err := pool.QueryRow(context.Background(), `SELECT convert_from(payload, 'UTF8')::jsonb->'data' = $2::jsonb
			FROM outbox WHERE key = $1 ORDER BY seq DESC LIMIT 1`, id, string(body)).Scan(&same); err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Fatalf("the snapshot is not the latest event's data: %s", body)
		}
		var p eventdata.Practitioner
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	id, token, loc, typ := setUp(t, srv)
	status, body := get(id)
	if status != http.StatusOK {
		t.Fatalf("GET practice: HTTP %d %s", status, body)
	}
	before := sameAsLastEvent(id, body)
	if before.ID != id || before.Version < 1 || len(before.AppointmentTypes) != 1 || len(before.OpeningHours) != 0 {
		t.Fatalf("snapshot before opening hours: %+v", before)
	}

	wantCodes(t, "set opening hours", gqltest.Do(t, srv.URL, token, setOpeningHoursOp, map[string]any{"input": map[string]any{"locationId": loc,
		"rules": []map[string]any{{"weekday": "MONDAY", "startTime": "09:00", "endTime": "12:00", "stepMinutes": 15, "appointmentTypeIds": []string{typ}}}}}))
	status, body = get(id)
	if status != http.StatusOK {
		t.Fatalf("GET practice: HTTP %d %s", status, body)
	}
	after := sameAsLastEvent(id, body)
	if after.Version <= before.Version || len(after.OpeningHours) != 1 {
		t.Fatalf("snapshot after opening hours: version %d (before %d), %d rules", after.Version, before.Version, len(after.OpeningHours))
	}

	for _, unknown := range []string{uuid.NewString(), "not-an-id"} {
		if status, body := get(unknown); status != http.StatusNotFound {
			t.Fatalf("GET practice %q: HTTP %d %s, want 404", unknown, status, body)
		}
	}
}
