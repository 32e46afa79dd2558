package eventdata

// Patient is the data of every patient event (on patient-events, keyed by
// patient id): the whole account at a version, so a consumer (notification,
// booking) applies any one event on its own and keeps the newest version. It
// is the public event contract other services decode, so its JSON names are
// stable.
type Patient struct {
	ID                      string                  `json:"id"`
	Version                 int64                   `json:"version"`
	Email                   string                  `json:"email"`
	FirstName               string                  `json:"firstName"`
	LastName                string                  `json:"lastName"`
	Phone                   string                  `json:"phone,omitempty"`
	BirthDate               string                  `json:"birthDate"` // YYYY-MM-DD
	Locale                  string                  `json:"locale"`
	Country                 string                  `json:"country"`
	NotificationPreferences NotificationPreferences `json:"notificationPreferences"`
	Relatives               []Relative              `json:"relatives"`
	// ErasedRelativeIDs, in an erasure only, are the relatives erased with the
	// account (those no other guardian keeps).
	ErasedRelativeIDs []string `json:"erasedRelativeIds,omitempty"`
}

// NotificationPreferences are the channels a patient is notified on.
type NotificationPreferences struct {
	Email bool `json:"email"`
	SMS   bool `json:"sms"`
}

// Relative is a relative (e.g. a child) of a patient in an event.
type Relative struct {
	ID        string `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	BirthDate string `json:"birthDate"` // YYYY-MM-DD
}
