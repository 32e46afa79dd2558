package system

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// Result is what the invariants found after a fault.
type Result struct {
	// Converged is the time from the end of the storm until every
	// invariant held (events relayed and consumed, read models and live
	// subscribers caught up).
	Converged time.Duration
	Problems  []string
	// Took is how long each check waited, from the end of the storm.
	Took []string
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Invariants waits for the system to settle after storm (and watchers) and
// checks what must always hold:
//   - no two confirmed appointments of a practitioner or a person overlap (SQL);
//   - every booking the API accepted is in the store, once per idempotency key;
//   - availability's Redis model equals `careslot rebuild availability` into
//     a separate prefix, key for key;
//   - what the search replicas answer equals what `careslot rebuild search`
//     answers (the embedded index rebuilt from the owners' exports, served);
//   - every accepted booking has exactly one confirmation per channel;
//   - every live subscriber holds the current list of slots.
func (s *System) Invariants(ctx context.Context, storm *Storm, watchers []*Watcher) Result {
	var (
		r  Result
		wg sync.WaitGroup
		mu sync.Mutex
	)
	start := storm.stopped
	accepted := storm.Accepted()

	took := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		r.Took = append(r.Took, fmt.Sprintf("%s %s", name, time.Since(start).Round(10*time.Millisecond)))
	}
	if err := s.waitSettled(ctx); err != nil {
		r.problem("events not settled: %v", err)
	}
	took("settled")
	s.checkBookings(ctx, &r, storm.Run, accepted)

	report := func(name string, f func(*Result)) {
		defer wg.Done()
		var sub Result
		f(&sub)
		took(name)
		mu.Lock()
		defer mu.Unlock()
		for _, p := range sub.Problems {
			r.problem("%s: %s", name, p)
		}
	}
	wg.Add(4)
	go report("availability", func(sub *Result) { s.checkAvailability(ctx, sub) })
	go report("search", func(sub *Result) { s.checkSearch(ctx, sub) })
	go report("notifications", func(sub *Result) { s.checkNotifications(ctx, sub, accepted) })
	go report("live", func(sub *Result) { s.checkWatchers(ctx, sub, watchers) })
	wg.Wait()
	r.Converged = time.Since(start)
	return r
}

// waitSettled waits until no outbox holds an event and every consumer group
// with members has consumed its topics to the end.
func (s *System) waitSettled(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last, logged string
	t0 := time.Now()
	defer func() {
		if time.Since(t0) > 2*time.Second {
			s.t.Logf("settling took %s; waited last for: %s", time.Since(t0).Round(time.Millisecond), logged)
		}
	}()
	for {
		if last != "" {
			logged = last
		}
		last = ""
		for _, svc := range []string{"practitioner", "patient", "booking", "notification"} {
			n, err := s.count(ctx, svc, `SELECT count(*) FROM outbox`)
			if err != nil || n > 0 {
				last = fmt.Sprintf("%s outbox: %d (%v)", svc, n, err)
				break
			}
		}
		if last == "" {
			last = s.lagging(ctx, adm)
		}
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lagging describes the first consumer group behind on the system's topics ("" none).
func (s *System) lagging(ctx context.Context, adm *kadm.Client) string {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return "list groups: " + err.Error()
	}
	lags, err := adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		return "lag: " + err.Error()
	}
	for _, g := range lags.Sorted() {
		if len(g.Members) == 0 {
			continue // a group of a process that is gone
		}
		for topic, ps := range g.Lag {
			if !strings.HasPrefix(topic, s.TopicPrefix) {
				continue
			}
			for p, l := range ps {
				if l.Lag != 0 {
					return fmt.Sprintf("group %s %s/%d lag %d", g.Group, topic, p, l.Lag)
				}
			}
		}
	}
	return ""
}

func (s *System) conn(ctx context.Context, svc string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, plainDSN(s.DSN[svc]))
}

func (s *System) count(ctx context.Context, svc, q string, args ...any) (int, error) {
	c, err := s.conn(ctx, svc)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// checkBookings: no overlaps, and the accepted bookings are exactly the
// store's bookings under the storm's keys.
func (s *System) checkBookings(ctx context.Context, r *Result, run string, accepted map[string]string) {
	overlaps, err := s.count(ctx, "booking", `SELECT count(*) FROM appointments a JOIN appointments b
		ON a.practitioner_id = b.practitioner_id AND a.id < b.id AND a.blocked && b.blocked
		WHERE a.status = 'CONFIRMED' AND b.status = 'CONFIRMED'`)
	if err != nil || overlaps != 0 {
		r.problem("%d overlapping confirmed appointments of one practitioner (%v)", overlaps, err)
	}
	persons, err := s.count(ctx, "booking", `SELECT count(*) FROM appointments a JOIN appointments b
		ON a.person_id = b.person_id AND a.id < b.id AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
		WHERE a.status = 'CONFIRMED' AND b.status = 'CONFIRMED'`)
	if err != nil || persons != 0 {
		r.problem("%d overlapping confirmed appointments of one person (%v)", persons, err)
	}
	c, err := s.conn(ctx, "booking")
	if err != nil {
		r.problem("booking database: %v", err)
		return
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT idempotency_key, id::text, status FROM appointments WHERE idempotency_key LIKE $1`, run+"-%")
	if err != nil {
		r.problem("read bookings: %v", err)
		return
	}
	stored := map[string][]string{}
	for rows.Next() {
		var key, id, status string
		if err := rows.Scan(&key, &id, &status); err != nil {
			r.problem("read bookings: %v", err)
			return
		}
		stored[key] = append(stored[key], id+"/"+status)
	}
	if err := rows.Err(); err != nil {
		r.problem("read bookings: %v", err)
	}
	lost, dup, unknown := 0, 0, 0
	for key, id := range accepted {
		got := stored[key]
		if len(got) != 1 || got[0] != id+"/CONFIRMED" {
			lost++
			if lost <= 3 {
				r.problem("accepted booking %s (%s) stored as %v", key, id, got)
			}
		}
	}
	for key, got := range stored {
		if len(got) > 1 {
			dup++
		}
		if _, ok := accepted[key]; !ok {
			unknown++
			if unknown <= 3 {
				r.problem("stored booking %s %v was never accepted by the API", key, got)
			}
		}
	}
	if lost+dup+unknown > 0 {
		r.problem("%d accepted bookings lost or changed, %d keys booked twice, %d stored bookings never accepted (of %d accepted)",
			lost, dup, unknown, len(accepted))
	}
}

// checkAvailability rebuilds availability into a separate prefix and
// compares it with the live model key for key (but the tombstones of
// appointments that stopped occupying, which a rebuild keeps rather than
// makes). A difference is looked at again a few times: the live model may
// still be applying the last events, and the next slot depends on the clock.
func (s *System) checkAvailability(ctx context.Context, r *Result) {
	rdb := s.Redis.Client()
	defer rdb.Close()
	for attempt := 1; ; attempt++ {
		diffs, n, err := s.compareAvailability(ctx, rdb)
		if err != nil {
			r.problem("%v", err)
			return
		}
		if len(diffs) == 0 {
			if n == 0 {
				r.problem("the model is empty")
			}
			return
		}
		if attempt == 4 {
			r.problem("the live model differs from the rebuild in %d keys (of %d): %s", len(diffs), n, strings.Join(diffs[:min(5, len(diffs))], "; "))
			return
		}
		time.Sleep(time.Second)
	}
}

func (s *System) compareAvailability(ctx context.Context, rdb redis.UniversalClient) ([]string, int, error) {
	rebuilt := fmt.Sprintf("sys%srb%d:", s.Suffix, time.Now().UnixNano()%1e6)
	defer func() { _ = deletePrefix(context.WithoutCancel(ctx), rdb, rebuilt) }()
	cmd := s.Command(ctx, "availability", "rebuild", "availability")
	cmd.Env = append(cmd.Env, "REDIS_PREFIX="+rebuilt)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, 0, fmt.Errorf("careslot rebuild availability: %v\n%s", err, out)
	}
	live, err := dumpModel(ctx, rdb, s.RedisPrefix)
	if err != nil {
		return nil, 0, err
	}
	fresh, err := dumpModel(ctx, rdb, rebuilt)
	if err != nil {
		return nil, 0, err
	}
	skipPendingRolls(live, fresh, time.Now())
	return diffModels(live, fresh), len(live), nil
}

// skipPendingRolls leaves out of the comparison the practitioners whose
// daily roll is still to come in the live model. Each rolls to the new day
// at its own time in the hour after local midnight (availability's
// rollJitter), while a rebuild builds the new day for everyone at once; so
// in that hour their records and due times differ by design. Both models
// are in Europe/Paris here (the system test's practices).
func skipPendingRolls(live, fresh map[string]string, now time.Time) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return
	}
	local := now.In(paris)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, paris)
	keys := store.Keys{}
	dueKey := keys.Due()
	pending := map[string]bool{}
	for _, member := range strings.Split(live[dueKey], ";") {
		pid, score, ok := strings.Cut(member, "=")
		var due float64
		if _, err := fmt.Sscan(score, &due); !ok || err != nil {
			continue
		}
		at := time.Unix(int64(due), 0)
		if at.After(midnight) && !at.After(midnight.Add(time.Hour)) && at.After(now.Add(-10*time.Second)) {
			pending[pid] = true
		}
	}
	if len(pending) == 0 {
		return
	}
	for pid := range pending {
		for _, k := range []string{keys.Record(pid), keys.Busy(pid), keys.Pending(pid)} {
			delete(live, k)
			delete(fresh, k)
		}
	}
	for _, m := range []map[string]string{live, fresh} {
		var kept []string
		for _, member := range strings.Split(m[dueKey], ";") {
			if pid, _, _ := strings.Cut(member, "="); !pending[pid] {
				kept = append(kept, member)
			}
		}
		m[dueKey] = strings.Join(kept, ";")
	}
}

func dumpModel(ctx context.Context, rdb redis.UniversalClient, prefix string) (map[string]string, error) {
	keys := store.Keys{Prefix: prefix}
	out := map[string]string{}
	var mu sync.Mutex
	err := redisconn.Scan(ctx, rdb, prefix+"*", 1000, func(page []string) error {
		for _, k := range page {
			if kind := keys.KeyKind(k); kind == "" || kind == "gone" {
				continue // not the model's, or idempotency memory a rebuild keeps
			}
			short := strings.TrimPrefix(k, prefix)
			var v string
			switch typ := rdb.Type(ctx, k).Val(); typ {
			case "string":
				v = rdb.Get(ctx, k).Val()
			case "hash":
				m := rdb.HGetAll(ctx, k).Val()
				fs := make([]string, 0, len(m))
				for f, x := range m {
					fs = append(fs, f+"="+x)
				}
				sort.Strings(fs)
				v = strings.Join(fs, ";")
			case "zset":
				zs := rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
				fs := make([]string, 0, len(zs))
				for _, z := range zs {
					fs = append(fs, fmt.Sprintf("%v=%v", z.Member, z.Score))
				}
				sort.Strings(fs)
				v = strings.Join(fs, ";")
			default:
				v = "?" + typ
			}
			mu.Lock()
			out[short] = v
			mu.Unlock()
		}
		return nil
	})
	return out, err
}

func diffModels(live, fresh map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(live)) {
		if w, ok := fresh[k]; !ok {
			out = append(out, "only live "+k)
		} else if w != live[k] {
			out = append(out, fmt.Sprintf("%s live %.80q rebuilt %.80q", k, live[k], w))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fresh)) {
		if _, ok := live[k]; !ok {
			out = append(out, "only rebuilt "+k)
		}
	}
	return out
}

func deletePrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	return redisconn.Scan(ctx, rdb, prefix+"*", 1000, func(keys []string) error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		return err
	})
}

// checkSearch runs `careslot rebuild search -serve`: the embedded index
// rebuilt from the owners' exports over HTTP (practices, next slots), with
// no consumer, served for the check; and compares what it answers with what
// every running search replica answers, asked directly. Each asks with its
// own radius (a hair apart), so no answer comes from the shared result
// cache. A difference is looked at again with a new rebuild: the replicas
// may still be applying the last events, and a next slot moves with the
// clock, which a rebuild without a consumer does not follow.
func (s *System) checkSearch(ctx context.Context, r *Result) {
	for attempt := 1; ; attempt++ {
		want, err := s.rebuiltSearch(ctx)
		if err != nil {
			r.problem("%v", err)
			return
		}
		var diffs []string
		for i, rep := range s.Replicas("search") {
			got, err := searchAll(ctx, "http://"+rep.Addr+"/graphql", i+1)
			if err != nil {
				diffs = append(diffs, rep.Name+": "+err.Error())
				continue
			}
			if d := diffModels(got, want); len(d) > 0 {
				diffs = append(diffs, fmt.Sprintf("%s differs in %d of %d results: %s", rep.Name, len(d), len(want), strings.Join(d[:min(3, len(d))], "; ")))
			}
		}
		if len(diffs) == 0 {
			if len(want) == 0 {
				r.problem("the search found nothing")
			}
			return
		}
		if attempt == 4 {
			r.problem("%s", strings.Join(diffs, "\n"))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rebuiltSearch is what `careslot rebuild search` answers, asked once.
func (s *System) rebuiltSearch(ctx context.Context) (map[string]string, error) {
	name, addr := fmt.Sprintf("search-rebuild-%d", time.Now().UnixNano()%1e6), freeAddr()
	proc, err := s.spawn(name, s.dbEnv("search"), "rebuild", "-serve", addr, "search")
	if err != nil {
		return nil, err
	}
	defer func() { _ = proc.Stop(10 * time.Second) }()
	if err := waitHTTP(ctx, "http://"+addr+"/readyz", 60*time.Second); err != nil {
		return nil, fmt.Errorf("careslot rebuild search not serving: %v\n%s", err, s.LogTail(name, 10))
	}
	want, err := searchAll(ctx, "http://"+addr+"/graphql", 0)
	if err != nil {
		return nil, fmt.Errorf("rebuilt search: %w", err)
	}
	return want, nil
}

// searchAll pages through every practice near the storms' (location id →
// next available slot).
func searchAll(ctx context.Context, url string, nth int) (map[string]string, error) {
	c := gqlclient.New(url)
	out := map[string]string{}
	after := ""
	for {
		vars := map[string]any{"first": 100, "input": map[string]any{"country": "fr", "specialty": "general-practice",
			"near": map[string]any{"lat": 48.87, "lon": 2.33, "radiusKm": 20 + float64(nth)*1e-6 + float64(time.Now().UnixNano()%1000)*1e-9}}}
		if after != "" {
			vars["after"] = after
		}
		var res struct {
			SearchPractitioners struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct {
					NextAvailableSlot *string
					Location          struct{ ID string }
				}
			}
		}
		if err := c.Run(ctx, "", searchQuery, vars, &res); err != nil {
			return nil, err
		}
		for _, e := range res.SearchPractitioners.Edges {
			v := "none"
			if e.NextAvailableSlot != nil {
				v = *e.NextAvailableSlot
			}
			out[e.Location.ID] = v
		}
		if !res.SearchPractitioners.PageInfo.HasNextPage {
			return out, nil
		}
		after = res.SearchPractitioners.PageInfo.EndCursor
	}
}

func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		res, err := c.Get(url)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", res.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return last
}

// checkNotifications: every accepted booking has exactly one confirmation
// per channel (none lost, none duplicated).
func (s *System) checkNotifications(ctx context.Context, r *Result, accepted map[string]string) {
	ids := slices.Collect(maps.Values(accepted))
	c, err := s.conn(ctx, "notification")
	if err != nil {
		r.problem("notification database: %v", err)
		return
	}
	defer c.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var missing, dups int
		err := c.QueryRow(ctx, `WITH a AS (SELECT unnest($1::uuid[]) AS id),
			m AS (SELECT appointment_id, channel, count(*) AS n FROM messages
				WHERE kind = 'CONFIRMATION' AND appointment_id = ANY($1::uuid[]) GROUP BY 1, 2)
			SELECT (SELECT count(*) FROM a WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.appointment_id = a.id)),
			       (SELECT count(*) FROM m WHERE n > 1)`, ids).Scan(&missing, &dups)
		if err != nil {
			r.problem("read messages: %v", err)
			return
		}
		if dups > 0 {
			r.problem("%d duplicate confirmations", dups)
			return
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.problem("%d of %d accepted bookings have no confirmation", missing, len(ids))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkWatchers: every live subscriber ends up holding the list of slots
// the router answers now.
func (s *System) checkWatchers(ctx context.Context, r *Result, watchers []*Watcher) {
	deadline := time.Now().Add(30 * time.Second)
	for _, w := range watchers {
		for {
			var res struct {
				Practitioner struct{ AvailableSlots []slotJSON }
			}
			err := s.Client.Run(ctx, "", slotsQuery, map[string]any{"id": w.Practice.ID, "t": w.Practice.TypeID, "from": w.From, "to": w.To}, &res)
			want := slotsKey(res.Practitioner.AvailableSlots)
			if err == nil && w.Latest() == want {
				break
			}
			if time.Now().After(deadline) {
				r.problem("a subscriber of %s holds %d slots, the store has %d (%v); it got %s; a new subscriber through the router gets %s; %s; %s",
					w.Practice.ID, strings.Count(w.Latest(), ","), strings.Count(want, ","), err, w.Stats(), s.probeWatch(ctx, w), s.channelState(ctx, w), s.liveState(ctx))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// channelState says which Redis nodes hold a subscription to the watcher's
// channel (and their roles), then publishes a recompute signal on it and
// says what the watcher holds 2 s later: a watcher that catches up then
// missed a message; one that does not has a dead path from Redis to it.
func (s *System) channelState(ctx context.Context, w *Watcher) string {
	channel := store.Keys{Prefix: s.RedisPrefix}.Channel(w.Practice.ID)
	var b strings.Builder
	fmt.Fprintf(&b, "subscriptions to the channel by node:")
	for _, n := range s.Redis.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		role, _ := c.Do(ctx, "ROLE").Slice()
		subs, err := c.PubSubNumSub(ctx, channel).Result()
		_ = c.Close()
		r := "?"
		if len(role) > 0 {
			r = fmt.Sprint(role[0])
		}
		fmt.Fprintf(&b, " %s %s %d%s;", n.Addr(), r, subs[channel], errText(err))
	}
	rdb := s.Redis.Client()
	defer rdb.Close()
	before := strings.Count(w.Latest(), ",")
	n, err := rdb.Publish(ctx, channel, "{}").Result()
	time.Sleep(2 * time.Second)
	fmt.Fprintf(&b, " a recompute signal published (reached %d on its node%s): the subscriber held %d slots, now %d (%s)",
		n, errText(err), before, strings.Count(w.Latest(), ","), w.Stats())
	return b.String()
}

// liveState describes each availability replica's live hub and what it
// logged about it, for a subscriber found behind.
func (s *System) liveState(ctx context.Context) string {
	var b strings.Builder
	for _, r := range s.Replicas("availability") {
		fmt.Fprintf(&b, "%s (%d WebSockets through the proxy):", r.Name, s.Proxies["availability"].WebSockets(r.Addr))
		for _, m := range []string{"careslot_live_subscribers", "careslot_live_messages_delivered_total", "careslot_live_messages_dropped_total"} {
			v, err := metric(ctx, r.MetricsAddr, m)
			fmt.Fprintf(&b, " %s %v%s", strings.TrimPrefix(m, "careslot_live_"), v, errText(err))
		}
		fmt.Fprintf(&b, "\n%s\n", s.LogGrep(r.Name, 20, "livehub", "live slots", `"level":"ERROR"`))
	}
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// metric reads one gauge (summed over its series) from a replica's /metrics.
func metric(ctx context.Context, addr, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("%s not exported by %s", name, addr)
	}
	return sum, nil
}

// probeWatch subscribes afresh to a watcher's listing and says how many
// slots the first list has.
func (s *System) probeWatch(ctx context.Context, w *Watcher) string {
	probe := s.Watch(w.Practice, w.From, w.To)
	defer probe.Close()
	deadline := time.Now().Add(5 * time.Second)
	for probe.Latest() == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Sprintf("%d slots", strings.Count(probe.Latest(), ","))
}
