package edge

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// FuzzClientAddr: the client address is the peer's, or one of the X-Forwarded-For hops when the
// peer is a trusted proxy; never anything else.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:443", "198.51.100.1, 10.9.9.9")
	f.Add("203.0.113.9:5000", "198.51.100.1")
	f.Add("[2001:db8:1::1]:443", "::ffff:198.51.100.1,[2001:db8::5]:8080, garbage")
	f.Add("garbage", "")
	p, _ := ParseProxies([]string{"10.0.0.0/8", "2001:db8:1::/48"})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := p.ClientAddr(remote, []string{xff})
		if !got.IsValid() {
			return
		}
		if got == parseHost(remote) {
			return
		}
		for _, hop := range strings.Split(xff, ",") {
			if parseHost(strings.TrimSpace(hop)) == got {
				return
			}
		}
		t.Fatalf("ClientAddr(%q, %q) = %s: neither the peer nor a hop", remote, xff, got)
	})
}

// FuzzFrameScanner: any byte stream, cut anywhere, is followed without a panic.
func FuzzFrameScanner(f *testing.F) {
	f.Add(ws.MustCompileFrame(ws.NewTextFrame([]byte(`{"id":"1","type":"complete"}`))), 3)
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1)
	f.Add([]byte{0x01, 0x02, 'a', 'b', 0x80, 0x01, 'c'}, 2)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		var s frameScanner
		cut = max(cut, 1)
		for len(stream) > 0 {
			n := min(len(stream), cut)
			s.feed(stream[:n], func(b []byte) {
				if len(b) > maxInspectedServerMsg {
					t.Fatalf("handed a message of %d bytes", len(b))
				}
			})
			stream = stream[n:]
		}
		_ = s.atBoundary()
	})
}

// FuzzGuardedConn: whatever a client sends after the upgrade, the guard hands the router frames
// or an end of stream, never a panic or a hang.
func FuzzGuardedConn(f *testing.F) {
	mask := func(op byte, payload string) []byte {
		return ws.MustCompileFrame(ws.MaskFrame(ws.NewFrame(ws.OpCode(op&0x0f), op&0x80 != 0, []byte(payload))))
	}
	init := mask(0x81, `{"type":"connection_init","payload":{"Authorization":"Bearer x"}}`)
	f.Add(append(append([]byte{}, init...), mask(0x81, `{"id":"1","type":"subscribe","payload":{"query":"subscription { a }"}}`)...))
	f.Add(append(mask(0x01, `{"id":"1","ty`), mask(0x80, `pe":"subscribe"}`)...))
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add(append(mask(0x01, "a"), mask(0x89, "ping")...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	limits := newWSLimits(WebSocketLimits{MaxSubscriptionsPerConnection: 2, MaxMessageBytes: 1024}, nil, "", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		server, peer := net.Pipe()
		g := limits.guard(server, nil, httptest.NewRequest(http.MethodGet, "/graphql", nil), client{})
		go func() { _, _ = io.Copy(io.Discard, peer) }()
		go func() {
			_, _ = peer.Write(data)
			_ = peer.Close()
		}()
		_ = g.SetReadDeadline(time.Now().Add(5 * time.Second))
		var buf [512]byte
		for {
			if _, err := g.Read(buf[:]); err != nil {
				break
			}
		}
		_ = g.Close()
	})
}

// FuzzFragmentCheck: any query is inspected without a panic, and one without a fragment spread
// is never refused by it.
func FuzzFragmentCheck(f *testing.F) {
	f.Add("query { ...F0 } fragment F0 on Query { a ...F1 ...F1 } fragment F1 on Query { b }")
	f.Add("{ ... on Query { __schema { types { name } } } }")
	f.Add("query { ...A } fragment A on Query { ...A }")
	f.Add("{ a { b } }")
	f.Add(strings.Repeat("{", 200) + "..." + strings.Repeat("}", 200))
	check := fragmentCheck{maxExpandedFields: 50}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(q), nil)
		if ref := check.check(r); ref != nil && !strings.Contains(q, "...") {
			t.Fatalf("%q refused without a fragment: %+v", q, ref)
		}
		body := []byte(`{"query":` + quote(q) + `}`)
		r = httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		_ = check.check(r)
		if got, _ := io.ReadAll(r.Body); !bytes.Equal(got, body) {
			t.Fatalf("the router would get %q, not the body sent", got)
		}
	})
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzTokenProblem: any Authorization header gets a message, never a panic.
func FuzzTokenProblem(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer x.y.z", "Basic abc", "Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjF9.", strings.Repeat("a", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Authorization", h)
		if tokenProblem(r) == "" {
			t.Fatalf("%q: no message", h)
		}
	})
}

// FuzzLoadSettings: any edge.yaml is refused with an error or valid.
func FuzzLoadSettings(f *testing.F) {
	f.Add([]byte("rate_limits:\n  enabled: true\n  anonymous: {rate: 1, burst: 1, period: 1s}\n"))
	f.Add([]byte("trusted_proxies: [10.0.0.0/8, '::1']\nwebsocket: {ping_interval: 1s, idle_timeout: 2s}\n"))
	f.Add([]byte("websocket: {connection_lease: -1s, max_connections_per_ip: 3}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := LoadSettings(raw, nil)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("loaded settings do not validate: %v", err)
		}
	})
}
