package edge

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	routerconfig "github.com/careslot/careslot/router-config"
)

func TestDefaultSettings(t *testing.T) {
	s, err := DefaultSettings()
	if err != nil {
		t.Fatal(err)
	}
	if !s.RateLimits.Enabled || s.RateLimits.Anonymous.Rate <= 0 || s.RateLimits.Mutations.Rate <= 0 ||
		s.WebSocket.MaxSubscriptionsPerConnection <= 0 || s.WebSocket.MaxConnectionsPerSubject <= 0 || len(s.TrustedProxies) != 4 || s.MaxExpandedFields <= 0 {
		t.Errorf("committed defaults are not production limits: %+v", s)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	base, err := DefaultSettings()
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(edgeYAML(t), map[string]string{
		"ROUTER_TRUSTED_PROXIES":                       "10.0.0.0/8, 192.0.2.7",
		"ROUTER_RATE_LIMIT_MUTATIONS_RATE":             "1",
		"ROUTER_RATE_LIMIT_MUTATIONS_PERIOD":           "1m",
		"ROUTER_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION":   "7",
		"ROUTER_RATE_LIMIT_ENABLED":                    "false",
		"SOMETHING_ELSE_ENTIRELY":                      "ignored",
		"ROUTER_WS_IDLE_TIMEOUT":                       "2m",
		"ROUTER_RATE_LIMIT_AUTHENTICATED_BURST":        "99",
		"ROUTER_WS_MAX_CONNECTIONS_PER_SUBJECT":        "0",
		"ROUTER_RATE_LIMIT_ANONYMOUS_RATE_UNKNOWN_KEY": "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.TrustedProxies) != 2 || s.RateLimits.Mutations.Rate != 1 || s.RateLimits.Mutations.Period != time.Minute ||
		s.RateLimits.Mutations.Burst != base.RateLimits.Mutations.Burst || s.WebSocket.MaxSubscriptionsPerConnection != 7 ||
		s.RateLimits.Enabled || s.WebSocket.IdleTimeout != 2*time.Minute || s.RateLimits.Authenticated.Burst != 99 ||
		s.RateLimits.Authenticated.Rate != base.RateLimits.Authenticated.Rate || s.WebSocket.MaxConnectionsPerSubject != 0 {
		t.Errorf("overrides not applied over the file: %+v", s)
	}
	for name, environ := range map[string]map[string]string{
		"bad proxy":       {"ROUTER_TRUSTED_PROXIES": "10.0.0.0/33"},
		"bad number":      {"ROUTER_WS_MAX_MESSAGE_BYTES": "lots"},
		"zero burst":      {"ROUTER_RATE_LIMIT_ANONYMOUS_BURST": "0"},
		"no period":       {"ROUTER_RATE_LIMIT_ANONYMOUS_PERIOD": "0s"},
		"ping after idle": {"ROUTER_WS_PING_INTERVAL": "5m"},
	} {
		if _, err := LoadSettings(edgeYAML(t), environ); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadSettings([]byte("rate_limits:\n  enabld: true\n"), nil); err == nil {
		t.Error("a misspelt key is accepted")
	}
}

func edgeYAML(t *testing.T) []byte {
	t.Helper()
	return routerconfig.EdgeYAML
}

func TestClientAddr(t *testing.T) {
	p, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.9:5000", nil, "203.0.113.9"},
		{"203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"}, // untrusted peer: its header is ignored
		{"10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:443", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},          // a chain of trusted proxies
		{"10.1.2.3:443", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"}, // what the client claimed is not believed
		{"10.1.2.3:443", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},         // several header lines
		{"10.1.2.3:443", []string{"not-an-ip, 198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:443", []string{"198.51.100.1, garbage"}, "10.1.2.3"}, // an unreadable hop ends the walk
		{"10.1.2.3:443", []string{"10.4.4.4"}, "10.4.4.4"},              // proxies all the way: the farthest
		{"10.1.2.3:443", []string{"[2001:db8::5]:8080"}, "2001:db8::5"},
		{"[2001:db8:1::1]:443", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"192.0.2.7:1", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"garbage", []string{"198.51.100.1"}, "invalid IP"},
	} {
		if got := p.ClientAddr(c.remote, c.xff).String(); got != c.want {
			t.Errorf("ClientAddr(%q, %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	none, _ := ParseProxies(nil)
	if got := none.ClientAddr("10.1.2.3:443", []string{"198.51.100.1"}).String(); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: %s", got)
	}
	for in, want := range map[string]string{"198.51.100.1": "198.51.100.1", "2001:db8:aa:bb:1:2:3:4": "2001:db8:aa:bb::/64"} {
		if got := AddrKey(parseHost(in)); got != want {
			t.Errorf("AddrKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestFrameScannerFollowsFramesInAnyPieces: however the router's writes are cut, the scanner
// finds every text message and knows when it is between frames.
func TestFrameScannerFollowsFramesInAnyPieces(t *testing.T) {
	var stream []byte
	var want []string
	for i := range 200 {
		msg := `{"id":"` + strings.Repeat("x", i%7) + `","type":"next","payload":"` + strings.Repeat("p", rand.IntN(70000)) + `"}`
		f := ws.NewTextFrame([]byte(msg))
		switch i % 5 {
		case 1:
			stream = append(stream, ws.MustCompileFrame(ws.NewPingFrame([]byte("hi")))...)
		case 2:
			f = ws.MaskFrame(f)
		}
		stream = append(stream, ws.MustCompileFrame(f)...)
		if len(msg) <= maxInspectedServerMsg {
			want = append(want, msg)
		}
	}
	for range 20 {
		var s frameScanner
		var got []string
		rest := stream
		for len(rest) > 0 {
			n := min(len(rest), 1+rand.IntN(300))
			s.feed(rest[:n], func(b []byte) { got = append(got, string(b)) })
			rest = rest[n:]
		}
		if !s.atBoundary() || len(got) != len(want) {
			t.Fatalf("boundary %v, %d messages, want %d", s.atBoundary(), len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("message %d differs", i)
			}
		}
	}
}

func TestShaper(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int
		contentType string
		body        string
		wantStatus  int
		wantCode    string // "" means the body passes unchanged
	}{
		{"plain 401", 401, "text/plain; charset=utf-8", "Unauthorized\n", 401, CodeUnauthenticated},
		{"router 401", 401, "application/json", `{"errors":[{"message":"unauthorized"}]}`, 401, CodeUnauthenticated},
		{"code kept", 200, "application/json", `{"errors":[{"message":"x","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}`, 200, "PERSISTED_QUERY_NOT_FOUND"},
		{"data with errors", 200, "application/json", `{"errors":[{"message":"nope"}],"data":{"a":null}}`, 200, ""},
		{"data", 200, "application/json", `{"data":{"hello":"world"}}`, 200, ""},
		{"not found", 404, "text/plain", "404 page not found\n", 404, CodeNotFound},
		{"html", 200, "text/html", "<html>", 200, ""},
		{"empty 500", 500, "", "", 500, CodeInternal},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/graphql", nil)
			s := &shaper{w: rec, req: req}
			if c.contentType != "" {
				s.Header().Set("Content-Type", c.contentType)
			}
			s.WriteHeader(c.status)
			_, _ = s.Write([]byte(c.body))
			s.finish()
			if rec.Code != c.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, c.wantStatus)
			}
			if c.wantCode == "" {
				if rec.Body.String() != c.body || s.refused {
					t.Errorf("body changed to %q (refused %v)", rec.Body.String(), s.refused)
				}
				return
			}
			if !strings.Contains(rec.Body.String(), `"code":"`+c.wantCode+`"`) || !s.refused ||
				!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || bytes.Contains(rec.Body.Bytes(), []byte(`"data"`)) {
				t.Errorf("body %q, content type %q, refused %v", rec.Body.String(), rec.Header().Get("Content-Type"), s.refused)
			}
		})
	}
	// A response written in small pieces and flushed streams through.
	rec := httptest.NewRecorder()
	s := &shaper{w: rec, req: httptest.NewRequest("GET", "/", nil)}
	s.Header().Set("Content-Type", "application/json")
	_, _ = s.Write([]byte(`{"da`))
	s.Flush()
	_, _ = s.Write([]byte(`ta":1}`))
	s.finish()
	if rec.Body.String() != `{"data":1}` || !rec.Flushed || rec.Code != http.StatusOK {
		t.Errorf("streamed: %q flushed %v", rec.Body.String(), rec.Flushed)
	}
}
