package business

import "github.com/careslot/careslot/subgraphs/booking/store"

// The records the booking service reads and returns, as its callers (the GraphQL
// edge) see them: the store defines their fields, the business layer owns them
// as its API, so a caller depends on business alone (docs/CONVENTIONS.md).
type (
	Appointment = store.Appointment
	Offer       = store.Offer
	Restriction = store.Restriction
)
