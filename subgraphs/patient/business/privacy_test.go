package business_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/patient/business"
)

type sourceFunc func(ctx context.Context, authorization string) (json.RawMessage, error)

func (f sourceFunc) Export(ctx context.Context, authorization string) (json.RawMessage, error) {
	return f(ctx, authorization)
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	alice := register(t, svc, func(in *business.RegisterInput) { in.Email = "alice@example.fr" })
	bob := register(t, svc, func(in *business.RegisterInput) { in.Email = "bob@example.fr" })
	own, err := svc.AddRelative(asPatient(alice.ID), business.RelativeInput{FirstName: "Léa", LastName: "Martin", BirthDate: date("2018-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := svc.AddRelative(asPatient(alice.ID), business.RelativeInput{FirstName: "Tom", LastName: "Martin", BirthDate: date("2016-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO relative_guardians (relative_id, patient_id, rank) VALUES ($1, $2, 2)`,
		shared.ID, bob.ID); err != nil {
		t.Fatal(err)
	}

	wantCode(t, svc.DeleteAccount(context.Background()), apperr.Unauthenticated, "")
	admin := auth.WithPrincipal(context.Background(), auth.Principal{Subject: alice.ID, Account: alice.ID, Role: auth.RoleAdmin})
	wantCode(t, svc.DeleteAccount(admin), apperr.Forbidden, "")

	outboxBefore := count(t, pool, `SELECT count(*) FROM outbox`)
	if err := svc.DeleteAccount(asPatient(alice.ID)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM patients WHERE id = $1 OR email = 'alice@example.fr'`, alice.ID); n != 0 {
		t.Fatal("the account is still there")
	}
	if n := count(t, pool, `SELECT count(*) FROM relatives WHERE id = $1`, own.ID); n != 0 {
		t.Fatal("a relative only alice kept is still there")
	}
	if n := count(t, pool, `SELECT count(*) FROM relative_guardians WHERE relative_id = $1 AND patient_id = $2`, shared.ID, bob.ID); n != 1 {
		t.Fatal("the relative shared with bob was taken from him")
	}
	if n := count(t, pool, `SELECT count(*) FROM relative_guardians WHERE patient_id = $1`, alice.ID); n != 0 {
		t.Fatal("alice's guardian links are still there")
	}

	// PatientErased in the same transaction, keyed by the patient, with nothing but the id.
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != outboxBefore+1 {
		t.Fatalf("outbox rows = %d, want %d", n, outboxBefore+1)
	}
	ev := lastEvent(t, pool)
	if ev.Type != eventdata.PatientErased || ev.Topic != events.PatientEvents || ev.Key != alice.ID || ev.Envelope.Subject != alice.ID ||
		ev.Data.ID != alice.ID || ev.Data.Version != 4 || ev.Data.Email != "" || ev.Data.FirstName != "" || len(ev.Data.Relatives) != 0 {
		t.Fatalf("event = %+v", ev)
	}

	// The subject no longer resolves; a second erasure finds nothing; the email is free.
	_, err = svc.Me(asPatient(alice.ID))
	wantCode(t, err, apperr.NotFound, "")
	wantCode(t, svc.DeleteAccount(asPatient(alice.ID)), apperr.NotFound, "")
	_, err = svc.Export(asPatient(alice.ID))
	wantCode(t, err, apperr.NotFound, "")
	again := register(t, svc, func(in *business.RegisterInput) { in.Email = "alice@example.fr" })
	if again.ID == alice.ID {
		t.Fatal("the old id came back")
	}
	if _, err := svc.Me(asPatient(bob.ID)); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	p := register(t, svc, nil)
	if _, err := svc.AddRelative(asPatient(p.ID), business.RelativeInput{FirstName: "Léa", LastName: "Martin", BirthDate: date("2018-06-01")}); err != nil {
		t.Fatal(err)
	}
	var gotAuth []string
	svc.SetExportSources(map[string]business.ExportSource{
		"booking": sourceFunc(func(_ context.Context, a string) (json.RawMessage, error) {
			gotAuth = append(gotAuth, a)
			return json.RawMessage(`{"appointments":[{"id":"a1"}]}`), nil
		}),
		"notification": sourceFunc(func(context.Context, string) (json.RawMessage, error) {
			return json.RawMessage(`{"messages":[]}`), nil
		}),
	})
	ctx := business.WithAuthorization(asPatient(p.ID), "Bearer patient-token")
	doc, err := svc.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Format, Subject, ExportedAt string
		Services                    struct {
			Patient struct {
				Account struct {
					ID, Email, BirthDate string
				}
				Relatives []struct{ FirstName string }
			}
			Booking      struct{ Appointments []struct{ ID string } }
			Notification struct{ Messages []any }
		}
	}
	if err := json.Unmarshal(doc, &out); err != nil {
		t.Fatal(err)
	}
	if out.Format != business.ExportFormat || out.Subject != p.ID || out.ExportedAt == "" ||
		out.Services.Patient.Account.ID != p.ID || out.Services.Patient.Account.Email != "camille.martin@example.fr" ||
		out.Services.Patient.Account.BirthDate != "1990-04-12" || len(out.Services.Patient.Relatives) != 1 ||
		len(out.Services.Booking.Appointments) != 1 || out.Services.Notification.Messages == nil {
		t.Fatalf("export = %s", doc)
	}
	if len(gotAuth) != 1 || gotAuth[0] != "Bearer patient-token" {
		t.Fatalf("the caller's token was not forwarded: %v", gotAuth)
	}

	// Only the patient themself.
	_, err = svc.Export(context.Background())
	wantCode(t, err, apperr.Unauthenticated, "")

	// A failing source fails the export: no partial document.
	svc.SetExportSources(map[string]business.ExportSource{
		"booking": sourceFunc(func(context.Context, string) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }),
		"notification": sourceFunc(func(context.Context, string) (json.RawMessage, error) {
			return nil, errors.New("notification answered HTTP 503")
		}),
	})
	doc, err = svc.Export(ctx)
	if doc != nil {
		t.Fatalf("a partial export came back: %s", doc)
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Internal || e.Reason != "EXPORT_INCOMPLETE" {
		t.Fatalf("error = %v", err)
	}
}
