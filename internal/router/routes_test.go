package router_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/testenv"
)

// feedUpstream is a subgraph listener that serves /graphql (the fake subgraph) and a plain
// route /calendar/ answering like booking's feeds: one known address, ETag and 304.
type feedUpstream struct {
	srv *httptest.Server

	mu     sync.Mutex
	paths  []string
	auth   []string
	realIP []string
}

func newFeedUpstream(t testing.TB, up *upstream) *feedUpstream {
	f := &feedUpstream{}
	mux := http.NewServeMux()
	mux.Handle("/graphql", up.srv.Config.Handler)
	mux.HandleFunc("/calendar/", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.realIP = append(f.realIP, r.Header.Get("X-Real-IP"))
		f.mu.Unlock()
		if r.URL.Path != "/calendar/known.ics" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"))
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// withFeeds passes /calendar/ through to the fake subgraph's listener.
func withFeeds(f *feedUpstream) func(*router.Options) {
	return func(o *router.Options) {
		o.Routes = map[string]string{"/calendar/": "hello"}
		o.SubgraphURLs = map[string]string{"hello": f.srv.URL + "/graphql"}
	}
}

// TestPlainRoutePassesThrough: GET /calendar/… on the router's listener reaches the subgraph's
// own listener at the same path, without the caller's credentials but with the client's
// address; the subgraph's answer (a calendar, a 304, a bare 404) comes back as it is, not
// reshaped into GraphQL; /graphql is served as before.
func TestPlainRoutePassesThrough(t *testing.T) {
	up := newUpstream(t)
	feeds := newFeedUpstream(t, up)
	e := startWith(t, up, newJWKS(t), withFeeds(feeds))
	base := strings.TrimSuffix(e.url, "/graphql")

	a := call(t, http.DefaultClient, "GET", base+"/calendar/known.ics", "", nil, "Authorization", "Bearer whatever", "Cookie", "s=1")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		a.raw != "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" || a.header.Get("ETag") != `"v1"` {
		t.Fatalf("feed through the router: %d %v %q", a.status, a.header, a.raw)
	}
	if b := call(t, http.DefaultClient, "GET", base+"/calendar/known.ics", "", nil, "If-None-Match", `"v1"`); b.status != http.StatusNotModified || b.raw != "" {
		t.Errorf("If-None-Match through the router: %d %q", b.status, b.raw)
	}
	if n := call(t, http.DefaultClient, "GET", base+"/calendar/unknown.ics", "", nil); n.status != http.StatusNotFound ||
		n.raw != "not found\n" || strings.Contains(n.header.Get("Content-Type"), "json") {
		t.Errorf("unknown feed through the router: %d %v %q (want the subgraph's bare 404)", n.status, n.header, n.raw)
	}
	feeds.mu.Lock()
	if !slices.Equal(feeds.paths, []string{"/calendar/known.ics", "/calendar/known.ics", "/calendar/unknown.ics"}) ||
		feeds.auth[0] != "" || feeds.realIP[0] != "127.0.0.1" {
		t.Errorf("the subgraph saw paths %v, Authorization %q, X-Real-IP %q", feeds.paths, feeds.auth, feeds.realIP)
	}
	feeds.mu.Unlock()

	if status, resp, raw := e.post(t, `{ hello }`, ""); status != http.StatusOK || resp.Data["hello"] != "world" {
		t.Errorf("the graph beside the route: %d %s", status, raw)
	}
	if n := call(t, http.DefaultClient, "GET", base+"/calendarx", "", nil); n.status == http.StatusOK {
		t.Errorf("a path that only starts like the route reached it: %d", n.status)
	}
}

// TestPlainRouteGuessingIsThrottled: unknown addresses spend the client's refusal budget, so
// guessing feed addresses ends in 429 with Retry-After, for known addresses too.
func TestPlainRouteGuessingIsThrottled(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.RateLimits.Refusals = edge.Budget{Rate: 1, Burst: 3, Period: time.Hour}
	})
	up := newUpstream(t)
	feeds := newFeedUpstream(t, up)
	e := startWith(t, up, newJWKS(t), withEdge(s, rdb, prefix), withFeeds(feeds))
	base := strings.TrimSuffix(e.url, "/graphql")

	var statuses []int
	for range 6 {
		statuses = append(statuses, call(t, http.DefaultClient, "GET", base+"/calendar/guess.ics", "", nil).status)
	}
	if want := []int{404, 404, 404, 404, 429, 429}; !slices.Equal(statuses, want) { // 3 in the burst, the 4th finds it spent
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if a := call(t, http.DefaultClient, "GET", base+"/calendar/known.ics", "", nil); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("a blocked client's good request: %d %v", a.status, a.header)
	}
}
