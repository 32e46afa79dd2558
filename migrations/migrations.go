// Package migrations holds every store's schema as goose SQL migrations:
// platform/ (outbox, processed events) applies to every service database,
// then <service>/ for that service's own tables.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed */*.sql
var all embed.FS

// For returns the migrations of one directory (platform or a service name),
// or nil when it has none.
func For(dir string) fs.FS {
	if _, err := fs.Stat(all, dir); err != nil {
		return nil
	}
	sub, err := fs.Sub(all, dir)
	if err != nil {
		return nil
	}
	return sub
}
