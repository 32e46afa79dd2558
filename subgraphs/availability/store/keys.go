package store

import "strings"

// Keys builds the key names under a prefix. Every key of a practitioner
// has its id in braces, a Redis Cluster hash tag (written inline, so that a
// key costs one allocation).
type Keys struct{ Prefix string }

// Index is the practitioner → country index.
func (k Keys) Index(pid string) string { return k.Prefix + "pidx:{" + pid + "}" }

// Sched is the practitioner's snapshot.
func (k Keys) Sched(cc, pid string) string { return k.Prefix + cc + ":sched:{" + pid + "}" }

// Busy is the hash of occupying appointments.
func (k Keys) Busy(cc, pid string) string { return k.Prefix + cc + ":busy:{" + pid + "}" }

// Gone is the hash of appointments that no longer occupy (their last version).
func (k Keys) Gone(cc, pid string) string { return k.Prefix + cc + ":gone:{" + pid + "}" }

// Day is one local day's bitmap.
func (k Keys) Day(cc, pid, date string) string {
	return k.Prefix + cc + ":avail:{" + pid + "}:" + date
}

// parseDay splits a Day key.
func (k Keys) parseDay(key string) (cc, pid, date string, ok bool) {
	rest, ok := strings.CutPrefix(key, k.Prefix)
	if !ok {
		return "", "", "", false
	}
	cc, rest, ok = strings.Cut(rest, ":avail:{")
	if !ok {
		return "", "", "", false
	}
	pid, date, ok = strings.Cut(rest, "}:")
	return cc, pid, date, ok && cc != "" && !strings.Contains(cc, ":") && pid != "" && date != ""
}

// Next is the next available slot.
func (k Keys) Next(cc, pid string) string { return k.Prefix + cc + ":next:{" + pid + "}" }

// Pending is the change notification not yet published.
func (k Keys) Pending(cc, pid string) string { return k.Prefix + cc + ":pending:{" + pid + "}" }

// Due is the maintenance schedule.
func (k Keys) Due() string { return k.Prefix + "avail:due" }

// Channel is the pub/sub channel of a practitioner's changes.
func (k Keys) Channel(pid string) string { return k.Prefix + "avail-changes:" + pid }

// DueMember is a practitioner's member in the Due set.
func DueMember(cc, pid string) string { return cc + "|" + pid }

// ParseDueMember splits a Due member.
func ParseDueMember(m string) (cc, pid string, ok bool) { return strings.Cut(m, "|") }

// IsModelKey reports whether key (under the prefix) belongs to the read
// model that Rebuild clears: everything above but the Gone hashes, which are
// idempotency memory like the consumers' dedupe keys.
func (k Keys) IsModelKey(key string) bool {
	rest, ok := strings.CutPrefix(key, k.Prefix)
	if !ok {
		return false
	}
	if rest == "avail:due" || strings.HasPrefix(rest, "pidx:{") {
		return true
	}
	_, kind, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	for _, p := range []string{"sched:{", "busy:{", "avail:{", "next:{", "pending:{"} {
		if strings.HasPrefix(kind, p) {
			return true
		}
	}
	return false
}
