package store

import (
	"context"
	"strings"
)

// Namespace is the read model's layout version in its key names ("av2:"):
// a release that changes the layout changes it, so its keys never meet
// those of another layout, and `careslot rebuild availability` fills the
// new one (and deletes the former's keys, see IsLegacyKey).
const Namespace = "av2:"

// Keys builds the key names under a prefix. Every key of a practitioner
// has its id in braces, a Redis Cluster hash tag (written inline, so that a
// key costs one allocation).
type Keys struct{ Prefix string }

// Record is the practitioner's record (see Record).
func (k Keys) Record(pid string) string { return k.Prefix + Namespace + "p:{" + pid + "}" }

// Busy is the hash of occupying appointments.
func (k Keys) Busy(pid string) string { return k.Prefix + Namespace + "busy:{" + pid + "}" }

// Gone is the hash of appointments that no longer occupy (their last version).
func (k Keys) Gone(pid string) string { return k.Prefix + Namespace + "gone:{" + pid + "}" }

// Pending is the change notification not yet published.
func (k Keys) Pending(pid string) string { return k.Prefix + Namespace + "pending:{" + pid + "}" }

// Due is the maintenance schedule: practitioner ids scored by the Unix time
// their maintenance is due.
func (k Keys) Due() string { return k.Prefix + Namespace + "due" }

// Channel is the pub/sub channel of a practitioner's changes.
func (k Keys) Channel(pid string) string { return k.Prefix + "avail-changes:" + pid }

// recordPattern matches every record key (SCAN MATCH).
func (k Keys) recordPattern() string { return k.Prefix + Namespace + "p:{*}" }

// KeyKind names a key of the model under the prefix: "record", "busy",
// "gone", "pending", "due", or "" for any other key.
func (k Keys) KeyKind(key string) string {
	rest, ok := strings.CutPrefix(key, k.Prefix+Namespace)
	if !ok {
		return ""
	}
	if rest == "due" {
		return "due"
	}
	kind, tag, ok := strings.Cut(rest, ":{")
	if !ok || !strings.HasSuffix(tag, "}") {
		return ""
	}
	switch kind {
	case "p":
		return "record"
	case "busy", "gone", "pending":
		return kind
	}
	return ""
}

// IsLegacyKey reports whether key (under the prefix) belongs to the layout
// before Namespace (one key per day and per field, the country in each
// name): what a rebuild deletes. Its tombstones are carried over first.
func (k Keys) IsLegacyKey(key string) bool {
	rest, ok := strings.CutPrefix(key, k.Prefix)
	if !ok {
		return false
	}
	if rest == "avail:due" || strings.HasPrefix(rest, "pidx:{") {
		return true
	}
	cc, kind, ok := strings.Cut(rest, ":")
	if !ok || cc == "" || strings.ContainsAny(cc, "{}") || cc+":" == Namespace {
		return false
	}
	for _, p := range []string{"sched:{", "busy:{", "gone:{", "avail:{", "next:{", "pending:{"} {
		if strings.HasPrefix(kind, p) {
			return true
		}
	}
	return false
}

// isLegacyGone reports whether a legacy key is a tombstone hash ("{cc}:gone:{pid}").
func (k Keys) isLegacyGone(key string) bool {
	_, kind, _ := strings.Cut(strings.TrimPrefix(key, k.Prefix), ":")
	return strings.HasPrefix(kind, "gone:{")
}

// FormerLayout reports whether Redis holds a read model in the layout before
// Namespace and none in this one: a release changed the layout and
// `careslot rebuild availability` has not run since.
func (s *Store) FormerLayout(ctx context.Context) (bool, error) {
	k := s.Keys
	// Two commands: on a cluster the keys live in different slots.
	old, err := s.rdb.Exists(ctx, k.Prefix+"avail:due").Result()
	if err != nil || old == 0 {
		return false, err
	}
	cur, err := s.rdb.Exists(ctx, k.Due()).Result()
	return cur == 0, err
}
