package eventdata

// PatientEventPrefix begins the type of every event of the patient service.
const PatientEventPrefix = "careslot.patient."

// Account event types (topic patient-events, keyed by patient id; data:
// Patient).
const (
	PatientRegistered              = "careslot.patient.PatientRegistered.v1"
	PatientUpdated                 = "careslot.patient.PatientUpdated.v1"
	RelativeAdded                  = "careslot.patient.RelativeAdded.v1"
	NotificationPreferencesChanged = "careslot.patient.NotificationPreferencesChanged.v1"
	// PatientErased: the account was erased (data: Patient with its id,
	// version and ErasedRelativeIDs; the subject is the patient id).
	PatientErased = "careslot.patient.PatientErased.v1"
)

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

// Desk patient event types (topic patient-events, keyed by the desk
// patient's id, so that a record's events stay in order).
const (
	// DeskPatientRecorded: a practice recorded a caller who has no account
	// (data: DeskPatient).
	DeskPatientRecorded = "careslot.patient.DeskPatientRecorded.v1"
	// DeskPatientClaimed: the person registered with a contact their identity
	// provider vouches for and the same birth date, and the record is now
	// their account's (data: DeskPatientClaim).
	DeskPatientClaimed = "careslot.patient.DeskPatientClaimed.v1"
)

// DeskPatient is a person record a practice holds for a caller without an
// account (ADR 21): visible to that practice only. Email is lower case and
// Phone E.164; either may be empty. ClaimedBy is the account that claimed it.
type DeskPatient struct {
	ID             string `json:"id"`
	Version        int64  `json:"version"`
	PractitionerID string `json:"practitionerId"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	BirthDate      string `json:"birthDate"` // YYYY-MM-DD
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	ClaimedBy      string `json:"claimedBy,omitempty"`
}

// DeskPatientClaim is the data of DeskPatientClaimed: the record (at its
// version after the claim), its practice and the account that claimed it.
type DeskPatientClaim struct {
	DeskPatientID  string `json:"deskPatientId"`
	Version        int64  `json:"version"`
	AccountID      string `json:"accountId"`
	PractitionerID string `json:"practitionerId"`
}
