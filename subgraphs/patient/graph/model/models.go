// Package model holds the patient subgraph's GraphQL types: these hand-written
// ones are the entities and what they embed; the rest (inputs, payloads) are
// generated into models_gen.go.
package model

import (
	"time"

	"github.com/careslot/careslot/internal/gqlscalar"
)

// Patient is a patient account; relatives are resolved (and batched) separately.
type Patient struct {
	ID                      string                   `json:"id"`
	FirstName               string                   `json:"firstName"`
	LastName                string                   `json:"lastName"`
	Email                   string                   `json:"email"`
	Phone                   *string                  `json:"phone,omitempty"`
	BirthDate               gqlscalar.Date           `json:"birthDate"`
	Locale                  string                   `json:"locale"`
	Country                 string                   `json:"country"`
	NotificationPreferences *NotificationPreferences `json:"notificationPreferences"`
	CreatedAt               time.Time                `json:"createdAt"`
}

// Relative is someone a patient books for.
type Relative struct {
	ID        string         `json:"id"`
	FirstName string         `json:"firstName"`
	LastName  string         `json:"lastName"`
	BirthDate gqlscalar.Date `json:"birthDate"`
}

// NotificationPreferences are the channels a patient is notified on.
type NotificationPreferences struct {
	Email bool `json:"email"`
	Sms   bool `json:"sms"`
}

// IsEntity marks the federation entities.
func (Patient) IsEntity()  {}
func (Relative) IsEntity() {}
