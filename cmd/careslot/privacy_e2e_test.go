package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestNotificationsAndPrivacyThroughTheRouter: a booking produces a
// confirmation the patient reads (myNotifications); the GDPR export gathers
// the account, its appointments and its messages from three services; and
// erasing the account leaves nothing to read.
func TestNotificationsAndPrivacyThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Hugo", "Fischer")
	openEveryDay(t, s, prTok, locID, typeID)
	_, paTok := registerPatient(t, s, "Alma")

	eventually(t, "booking", func() string {
		res, err := s.client.Do(t.Context(), paTok, s.op(t, "BookAppointment"), bookVars(prID, typeID, tomorrowAt(9, 0), "privacy-1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Err(); err != nil {
			return err.Error()
		}
		return ""
	})

	var notes struct {
		Me struct {
			Notifications struct {
				Edges []struct {
					Node struct{ Kind, Channel, Status, Subject string }
				}
			}
		}
	}
	eventually(t, "confirmation", func() string {
		s.run(t, paTok, s.op(t, "MyNotifications"), map[string]any{"first": 10}, &notes)
		for _, e := range notes.Me.Notifications.Edges {
			if e.Node.Kind == "CONFIRMATION" && e.Node.Channel == "EMAIL" && e.Node.Status == "SENT" {
				return ""
			}
		}
		return fmt.Sprintf("%+v", notes.Me.Notifications.Edges)
	})

	var export struct {
		ExportMyData struct{ Data json.RawMessage }
	}
	s.run(t, paTok, s.op(t, "ExportMyData"), nil, &export)
	doc := string(export.ExportMyData.Data)
	for _, want := range []string{"Alma", prID, "CONFIRMATION"} {
		if !strings.Contains(doc, want) {
			t.Fatalf("export lacks %q: %.400s", want, doc)
		}
	}

	var del struct {
		DeleteMyAccount struct{ Deleted bool }
	}
	s.run(t, paTok, s.op(t, "DeleteMyAccount"), nil, &del)
	if !del.DeleteMyAccount.Deleted {
		t.Fatal("not deleted")
	}
	if codes := s.errorCodes(t, paTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "NOT_FOUND") && !slices.Contains(codes, "UNAUTHENTICATED") {
		t.Fatalf("me after erasure: %v", codes)
	}
	// The practitioner's agenda keeps the booking's existence, anonymised.
	var agenda struct {
		MyPractice struct {
			Agenda []struct {
				PatientName *string
			}
		}
	}
	day := tomorrowAt(0, 0).Format("2006-01-02")
	eventually(t, "anonymised agenda", func() string {
		s.run(t, prTok, s.op(t, "MyAgenda"), map[string]any{"from": day, "to": day}, &agenda)
		if len(agenda.MyPractice.Agenda) != 1 {
			return fmt.Sprintf("%d appointments", len(agenda.MyPractice.Agenda))
		}
		if n := agenda.MyPractice.Agenda[0].PatientName; n != nil && strings.Contains(*n, "Alma") {
			return "name still there"
		}
		return ""
	})
}
