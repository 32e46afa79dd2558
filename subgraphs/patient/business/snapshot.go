package business

import (
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// SnapshotOf converts an account to its event form.
func SnapshotOf(a store.Aggregate) eventdata.Patient {
	p := a.Patient
	s := eventdata.Patient{
		ID: p.ID, Version: p.Version, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName,
		Phone: p.Phone, BirthDate: p.BirthDate.Format(time.DateOnly), Locale: p.Locale, Country: p.Country,
		NotificationPreferences: eventdata.NotificationPreferences{Email: p.NotifyEmail, SMS: p.NotifySMS},
		Relatives:               make([]eventdata.Relative, 0, len(a.Relatives)),
	}
	for _, r := range a.Relatives {
		s.Relatives = append(s.Relatives, eventdata.Relative{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName,
			BirthDate: r.BirthDate.Format(time.DateOnly)})
	}
	return s
}
