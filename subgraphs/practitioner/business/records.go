package business

import "github.com/careslot/careslot/subgraphs/practitioner/store"

// The records the practitioner service reads and returns, as its callers (the GraphQL
// edge) see them: the store defines their fields, the business layer owns them
// as its API, so a caller depends on business alone (docs/CONVENTIONS.md).
type (
	Absence         = store.Absence
	AppointmentType = store.AppointmentType
	Location        = store.Location
	OpeningHours    = store.OpeningHours
	Practitioner    = store.Practitioner
)
