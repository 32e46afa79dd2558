package config

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckURL: an accepted URL is absolute, with one of the schemes and a host, and its
// WebSocket form keeps the host.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:4001/graphql", "https://jwks.example.org/keys", "ftp://x", "http:///x", "//x", "http://[::1", "http://a b", "HTTP://X", "javascript:alert(1)", "http://user:pw@host/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckURL(s, "http", "https") != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("%q accepted", s)
		}
		ws, err := url.Parse(WebSocketURL(s))
		if err != nil || ws.Host != u.Host || !strings.HasPrefix(ws.Scheme, "ws") {
			t.Fatalf("%q: WebSocket URL %q", s, WebSocketURL(s))
		}
	})
}
