// Package model holds the notification subgraph's GraphQL types: this
// hand-written one is the stub of the Patient entity (owned by patient), which
// carries only its key so that Patient.notifications gets a resolver; the rest
// is generated into models_gen.go.
package model

// Patient is the patient entity as notification sees it: its key, and the
// notifications this subgraph adds.
type Patient struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entity.
func (Patient) IsEntity() {}
