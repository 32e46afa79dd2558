package business

import "github.com/careslot/careslot/subgraphs/patient/store"

// The records the patient service reads and returns, as its callers (the GraphQL
// edge) see them: the store defines their fields, the business layer owns them
// as its API, so a caller depends on business alone (docs/CONVENTIONS.md).
type (
	DeskPatient = store.DeskPatient
	Patient     = store.Patient
	Relative    = store.Relative
)
