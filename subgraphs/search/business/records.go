package business

import "github.com/careslot/careslot/subgraphs/search/store"

// The records the search service reads and returns, as its callers (the GraphQL
// edge) see them: the store defines their fields, the business layer owns them
// as its API, so a caller depends on business alone (docs/CONVENTIONS.md).
type (
	Document = store.Document
)
