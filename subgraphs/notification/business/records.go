package business

import "github.com/careslot/careslot/subgraphs/notification/store"

// The records the notification service reads and returns, as its callers (the GraphQL
// edge) see them: the store defines their fields, the business layer owns them
// as its API, so a caller depends on business alone (docs/CONVENTIONS.md).
type (
	Message = store.Message
)
