// Package model holds the notification subgraph's GraphQL types: these
// hand-written ones are the stubs of the Patient and Practitioner entities
// (owned by patient and practitioner), which carry only their keys so that
// Patient.notifications and Practitioner.practiceNotifications get
// resolvers; the rest is generated into models_gen.go.
package model

// Patient is the patient entity as notification sees it: its key, and the
// notifications this subgraph adds.
type Patient struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entity.
func (Patient) IsEntity() {}

// Practitioner is the practitioner entity as notification sees it: its key,
// and what the practice was told.
type Practitioner struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entity.
func (Practitioner) IsEntity() {}
