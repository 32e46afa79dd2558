// Package platform holds the goose migrations applied to every service
// database before that service's own migrations: the transactional outbox
// and the processed-events table of idempotent consumers.
package platform

import "embed"

// FS holds the platform migrations (goose SQL files, at the root of FS).
//
//go:embed *.sql
var FS embed.FS

// VersionTable is the goose version table the platform migrations should be
// recorded in, kept apart from each service's own goose table so that both
// sequences can start at version 1.
const VersionTable = "goose_platform"
