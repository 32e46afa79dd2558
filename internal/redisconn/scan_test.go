package redisconn_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/internal/testenv"
)

// TestScanPagesResumes: a scan resumed after any page's cursor gives every
// key the pages before it did not (SCAN may repeat a key, never skip one
// that stayed), a cursor of other masters starts over, and a cursor it did
// not make is refused.
func TestScanPagesResumes(t *testing.T) {
	// A server of its own: resuming after each page re-scans the whole
	// keyspace, whatever other tests keep in the shared one.
	rdb, prefix := testenv.NewRedisServer(t), "t:"
	ctx := context.Background()
	var all []string
	for i := range 200 {
		k := fmt.Sprintf("%sk:%03d", prefix, i)
		all = append(all, k)
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		keys   []string
		cursor string
	}
	scan := func(after string) []page {
		t.Helper()
		var out []page
		if err := redisconn.ScanPages(ctx, rdb, prefix+"k:*", 10, after, func(keys []string, cursor string) error {
			out = append(out, page{keys, cursor})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	keysOf := func(ps []page) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.keys...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	pages := scan("")
	if len(pages) < 3 {
		t.Fatalf("%d pages: the test needs several", len(pages))
	}
	if got := keysOf(pages); !slices.Equal(got, all) {
		t.Fatalf("scanned %d keys, want %d", len(got), len(all))
	}
	for i, p := range pages {
		got := keysOf(append(slices.Clone(pages[:i+1]), scan(p.cursor)...))
		if !slices.Equal(got, all) {
			t.Errorf("resumed after page %d of %d: %d keys of %d", i+1, len(pages), len(got), len(all))
		}
	}
	if got := keysOf(scan("otherfp.0.12345")); !slices.Equal(got, all) {
		t.Errorf("a cursor of other masters: %d keys of %d", len(got), len(all))
	}
	if err := redisconn.ScanPages(ctx, rdb, prefix+"k:*", 10, "garbage", func([]string, string) error { return nil }); !errors.Is(err, redisconn.ErrBadCursor) {
		t.Errorf("a malformed cursor: %v", err)
	}
}
