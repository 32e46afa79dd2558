package router_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/careslot/careslot/internal/compose"
	"github.com/careslot/careslot/internal/router"
)

const testSDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  hello: String
  secret: String
  node: Node
}

type Node {
  name: String
  child: Node
}

type Mutation {
  ping: String
}

type Subscription {
  ticks: Int!
}
`

// upstream is a fake subgraph: canned answers per root field, and a graphql-transport-ws
// endpoint whose subscription sends three ticks.
type upstream struct {
	srv *httptest.Server

	mu          sync.Mutex
	auth        []string // Authorization header of each HTTP request
	traceparent []string // W3C traceparent header of each HTTP request
	wsProtocol  string   // subprotocol the router asked for
	wsInitAuth  string   // Authorization in connection_init payload or upgrade header
	httpQueries int
	holdOpen    bool // subscriptions never complete
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	upgrader := websocket.Upgrader{Subprotocols: []string{"graphql-transport-ws"}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			u.serveWS(t, upgrader, w, r)
			return
		}
		var req struct {
			Query string `json:"query"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.auth = append(u.auth, r.Header.Get("Authorization"))
		u.traceparent = append(u.traceparent, r.Header.Get("traceparent"))
		u.httpQueries++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(req.Query, "secret"):
			_, _ = io.WriteString(w, `{"errors":[{"message":"nope","path":["secret"],"extensions":{"code":"FORBIDDEN","internal":"do not leak"}}],"data":null}`)
		case strings.Contains(req.Query, "hello"):
			_, _ = io.WriteString(w, `{"data":{"hello":"world"}}`)
		case strings.Contains(req.Query, "ping"):
			_, _ = io.WriteString(w, `{"data":{"ping":"pong"}}`)
		default:
			_, _ = io.WriteString(w, `{"data":null,"errors":[{"message":"unexpected query"}]}`)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serveWS(t testing.TB, upgrader websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.wsProtocol = r.Header.Get("Sec-WebSocket-Protocol")
	u.wsInitAuth = r.Header.Get("Authorization")
	u.mu.Unlock()
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		t.Logf("upstream upgrade: %v", err)
		return
	}
	defer c.Close()
	// Held-open subscriptions tick on every 50 ms (so that a subscriber joining a shared upstream
	// subscription hears from it too) until the connection ends.
	var wmu sync.Mutex
	write := func(v any) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.WriteJSON(v)
	}
	gone := make(chan struct{})
	defer close(gone)
	for {
		var msg struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := c.ReadJSON(&msg); err != nil {
			return
		}
		switch msg.Type {
		case "connection_init":
			var p map[string]any
			_ = json.Unmarshal(msg.Payload, &p)
			if a, ok := p["Authorization"].(string); ok {
				u.mu.Lock()
				if u.wsInitAuth == "" {
					u.wsInitAuth = a
				}
				u.mu.Unlock()
			}
			write(map[string]any{"type": "connection_ack"})
		case "ping":
			write(map[string]any{"type": "pong"})
		case "subscribe":
			for i := 1; i <= 3; i++ {
				write(map[string]any{"id": msg.ID, "type": "next", "payload": map[string]any{"data": map[string]any{"ticks": i}}})
			}
			if !u.holdOpen {
				write(map[string]any{"id": msg.ID, "type": "complete"})
				continue
			}
			go func(id string) {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for i := 4; ; i++ {
					select {
					case <-gone:
						return
					case <-tick.C:
						write(map[string]any{"id": id, "type": "next", "payload": map[string]any{"data": map[string]any{"ticks": i}}})
					}
				}
			}(msg.ID)
		}
	}
}

func (u *upstream) lastAuth() (string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.auth) == 0 {
		return "", 0
	}
	return u.auth[len(u.auth)-1], len(u.auth)
}

// jwks serves a JWKS with one RSA key and signs tokens with it.
type jwks struct {
	key *rsa.PrivateKey
	srv *httptest.Server
}

func newJWKS(t testing.TB) *jwks {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "test-key",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &jwks{key: key, srv: srv}
}

func (j *jwks) token(t *testing.T, key *rsa.PrivateKey) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": "patient-1", "roles": []string{"patient"}, "aud": "careslot",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "test-key"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// composeConfig writes a one-subgraph repository layout, composes it and returns the path of
// the execution configuration.
func composeConfig(t testing.TB, routingURL string) string {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "router-config"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "schema"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "schema", "hello.graphqls"), []byte(testSDL), 0o644))
	must(os.WriteFile(filepath.Join(dir, "router-config", "subgraphs.yaml"), []byte(
		"subgraphs:\n  - name: hello\n    routing_url: "+routingURL+"\n    schema: schema/hello.graphqls\n"), 0o644))
	must(compose.Write(dir))
	return filepath.Join(dir, "router-config", "config.json")
}

type env struct {
	url  string // router GraphQL endpoint
	up   *upstream
	jwks *jwks
}

// start composes a configuration whose routing URL is a placeholder and points the subgraph at
// the fake upstream through Options.SubgraphURLs; tweaks adjust the options.
func start(t testing.TB, tweaks ...func(*router.Options)) *env {
	t.Helper()
	return startWith(t, newUpstream(t), newJWKS(t), tweaks...)
}

func startWith(t testing.TB, up *upstream, keys *jwks, tweaks ...func(*router.Options)) *env {
	t.Helper()
	cfgPath := composeConfig(t, "http://127.0.0.1:1/graphql")
	addr := freeAddr(t)

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := router.Options{
		ListenAddr:          addr,
		ExecutionConfigPath: cfgPath,
		JWKSURL:             keys.srv.URL + "/.well-known/jwks.json",
		SubgraphURLs:        map[string]string{"hello": up.srv.URL + "/graphql"},
		Logger:              logger,
		Ready:               func() { close(ready) },
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	go func() { done <- router.Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("router not ready")
	}
	return &env{url: "http://" + addr + "/graphql", up: up, jwks: keys}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (e *env) post(t *testing.T, query, authorization string) (int, gqlResponse, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw)
}

func TestRouter(t *testing.T) {
	e := start(t)

	t.Run("query", func(t *testing.T) {
		status, resp, raw := e.post(t, `{ hello }`, "")
		if status != http.StatusOK || resp.Data["hello"] != "world" || len(resp.Errors) != 0 {
			t.Fatalf("status %d, body %s", status, raw)
		}
		if auth, _ := e.up.lastAuth(); auth != "" {
			t.Errorf("anonymous request reached the subgraph with Authorization %q", auth)
		}
	})

	t.Run("subgraph error code passes through", func(t *testing.T) {
		status, resp, raw := e.post(t, `{ secret }`, "")
		if status != http.StatusOK || len(resp.Errors) != 1 {
			t.Fatalf("status %d, body %s", status, raw)
		}
		got := resp.Errors[0]
		if got.Message != "nope" || got.Extensions["code"] != "FORBIDDEN" {
			t.Errorf("error = %+v, want message nope and extensions.code FORBIDDEN (body %s)", got, raw)
		}
		if _, leaked := got.Extensions["internal"]; leaked {
			t.Errorf("extension field outside the allow list reached the client: %s", raw)
		}
		if len(got.Path) != 1 || got.Path[0] != "secret" {
			t.Errorf("path = %v, want [secret]", got.Path)
		}
		t.Logf("client saw: %s", raw)
	})

	t.Run("valid token is propagated", func(t *testing.T) {
		tok := e.jwks.token(t, e.jwks.key)
		status, resp, raw := e.post(t, `{ hello }`, "Bearer "+tok)
		if status != http.StatusOK || resp.Data["hello"] != "world" {
			t.Fatalf("status %d, body %s", status, raw)
		}
		if auth, _ := e.up.lastAuth(); auth != "Bearer "+tok {
			t.Errorf("subgraph saw Authorization %q, want the caller's bearer token", auth)
		}
	})

	t.Run("bad tokens are rejected", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		for name, authz := range map[string]string{
			"malformed":  "Bearer not-a-jwt",
			"wrong key":  "Bearer " + e.jwks.token(t, other),
			"tampered":   "Bearer " + e.jwks.token(t, e.jwks.key) + "x",
			"not bearer": "Basic dXNlcjpwYXNz",
		} {
			_, before := e.up.lastAuth()
			status, _, raw := e.post(t, `{ hello }`, authz)
			if status != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401 (body %s)", name, status, raw)
			}
			if _, after := e.up.lastAuth(); after != before {
				t.Errorf("%s: rejected request reached the subgraph", name)
			}
		}
	})

	t.Run("depth limit", func(t *testing.T) {
		q := "{ node { " + strings.Repeat("child { ", 16) + "name" + strings.Repeat(" }", 16) + " } }"
		_, before := e.up.lastAuth()
		_, resp, raw := e.post(t, q, "")
		if len(resp.Errors) == 0 || !strings.Contains(strings.ToLower(resp.Errors[0].Message), "depth") {
			t.Errorf("deep query not rejected for depth: %s", raw)
		}
		if _, after := e.up.lastAuth(); after != before {
			t.Errorf("deep query reached the subgraph")
		}
	})

	t.Run("request body limit", func(t *testing.T) {
		q := "{ hello }" + strings.Repeat(" ", 2<<20)
		status, _, _ := e.post(t, q, "")
		if status < 400 {
			t.Errorf("2 MiB request: status %d, want an error", status)
		}
	})

	t.Run("subscription over graphql-transport-ws", func(t *testing.T) {
		tok := e.jwks.token(t, e.jwks.key)
		wsURL := "ws" + strings.TrimPrefix(e.url, "http")
		dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
		c, resp, err := dialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		defer c.Close()
		if c.Subprotocol() != "graphql-transport-ws" {
			t.Fatalf("router chose subprotocol %q", c.Subprotocol())
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}}))
		var msg struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		must(c.ReadJSON(&msg))
		if msg.Type != "connection_ack" {
			t.Fatalf("first message %q, want connection_ack", msg.Type)
		}
		must(c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { ticks }"}}))
		var ticks []string
		for {
			must(c.ReadJSON(&msg))
			if msg.Type == "complete" {
				break
			}
			if msg.Type != "next" {
				t.Fatalf("message %q: %s", msg.Type, msg.Payload)
			}
			ticks = append(ticks, string(msg.Payload))
		}
		if want := []string{`{"data":{"ticks":1}}`, `{"data":{"ticks":2}}`, `{"data":{"ticks":3}}`}; fmt.Sprint(ticks) != fmt.Sprint(want) {
			t.Errorf("ticks = %v, want %v", ticks, want)
		}
		e.up.mu.Lock()
		proto, auth := e.up.wsProtocol, e.up.wsInitAuth
		e.up.mu.Unlock()
		if proto != "graphql-transport-ws" {
			t.Errorf("router asked the subgraph for subprotocol %q, want graphql-transport-ws", proto)
		}
		if auth != "Bearer "+tok {
			t.Errorf("subgraph saw Authorization %q on the subscription, want the caller's token", auth)
		}
	})
}

func TestShutdownClosesLiveSubscriptions(t *testing.T) {
	up := newUpstream(t)
	up.holdOpen = true
	cfgPath := composeConfig(t, up.srv.URL+"/graphql")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- router.Run(ctx, router.Options{ListenAddr: addr, ExecutionConfigPath: cfgPath,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}

	c, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}).Dial("ws://"+addr+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]any
	if err := c.WriteJSON(map[string]any{"type": "connection_init"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadJSON(&m); err != nil || m["type"] != "connection_ack" {
		t.Fatalf("ack: %v %v", m, err)
	}
	if err := c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { ticks }"}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.ReadJSON(&m); err != nil || m["type"] != "next" {
			t.Fatalf("next: %v %v", m, err)
		}
	}

	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("shutdown with a live subscription took %s", d)
	}
	for {
		if err := c.ReadJSON(&m); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure) {
				t.Errorf("client connection ended with %v, want a close frame", err)
			}
			break
		}
	}
}

func TestRunErrors(t *testing.T) {
	up := newUpstream(t)
	cfgPath := composeConfig(t, up.srv.URL+"/graphql")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = router.Run(ctx, router.Options{ListenAddr: ln.Addr().String(), ExecutionConfigPath: cfgPath, Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("err = %v, want address already in use", err)
		}
	})
	t.Run("unknown subgraph override", func(t *testing.T) {
		err := router.Run(ctx, router.Options{ListenAddr: freeAddr(t), ExecutionConfigPath: cfgPath, Logger: quiet,
			SubgraphURLs: map[string]string{"nope": "http://127.0.0.1:1/graphql"}})
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("JWKS unreachable", func(t *testing.T) {
		err := router.Run(ctx, router.Options{ListenAddr: freeAddr(t), ExecutionConfigPath: cfgPath, Logger: quiet,
			JWKSURL: "http://127.0.0.1:1/.well-known/jwks.json", StartTimeout: time.Second})
		if err == nil || !strings.Contains(err.Error(), "JWKS") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing execution config", func(t *testing.T) {
		err := router.Run(ctx, router.Options{ListenAddr: freeAddr(t), ExecutionConfigPath: filepath.Join(t.TempDir(), "none.json"), Logger: quiet})
		if err == nil {
			t.Fatal("no error")
		}
	})
}

func TestSettings(t *testing.T) {
	cfgPath := composeConfig(t, "http://127.0.0.1:4001/graphql")
	cfg, err := router.Settings(router.Options{ListenAddr: "127.0.0.1:4000", ExecutionConfigPath: cfgPath, JWKSURL: "http://127.0.0.1:4010/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"router_registration off": !cfg.RouterRegistration,
		"graphql_metrics off":     !cfg.GraphqlMetrics.Enabled,
		"tracing off":             !cfg.Telemetry.Tracing.Enabled,
		"otlp metrics off":        !cfg.Telemetry.Metrics.OTLP.Enabled,
		"prometheus off":          !cfg.Telemetry.Metrics.Prometheus.Enabled,
		"net poll off":            !cfg.EngineExecutionConfiguration.EnableNetPoll,
		"dev mode off":            !cfg.DevelopmentMode,
		"depth limit 15":          cfg.SecurityConfiguration.ComplexityLimits != nil && cfg.SecurityConfiguration.ComplexityLimits.Depth != nil && cfg.SecurityConfiguration.ComplexityLimits.Depth.Enabled && cfg.SecurityConfiguration.ComplexityLimits.Depth.Limit == 15,
		"pass-through errors":     cfg.SubgraphErrorPropagation.Mode == "pass-through" && !cfg.SubgraphErrorPropagation.RewritePaths,
		"code, field, reason and the domain's facts allowed": slices.Equal(cfg.SubgraphErrorPropagation.AllowedExtensionFields,
			[]string{"code", "field", "reason", "until", "noShows", "sessionIndex", "sessionStartsAt"}),
		"anonymous allowed": !cfg.Authorization.RequireAuthentication,
		"one JWKS":          len(cfg.Authentication.JWT.JWKS) == 1,
		"Authorization, X-Real-IP propagated": cfg.Headers.All != nil && len(cfg.Headers.All.Request) == 2 &&
			cfg.Headers.All.Request[0].Named == "Authorization" && cfg.Headers.All.Request[1].Named == "X-Real-IP",
		"body limit 1MB":              cfg.TrafficShaping.Router.MaxRequestBodyBytes.Uint64() == 1_000_000,
		"websocket on":                cfg.WebSocket.Enabled,
		"grace period from yaml":      cfg.GracePeriod == 10*time.Second,
		"default kept (health check)": cfg.ReadinessCheckPath == "/health/ready",
		"no tracing exporter":         len(cfg.Telemetry.Tracing.Exporters) == 0,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: not so", name)
		}
	}
}

func TestSettingsTraceOnlyToTheGivenOTLPEndpoint(t *testing.T) {
	cfgPath := composeConfig(t, "http://127.0.0.1:4001/graphql")
	cfg, err := router.Settings(router.Options{ListenAddr: "127.0.0.1:4000", ExecutionConfigPath: cfgPath,
		TracingEndpoint: "http://otel-collector.monitoring.svc:4318/"})
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Telemetry.Tracing
	if !tr.Enabled || len(tr.Exporters) != 1 {
		t.Fatalf("tracing %v with exporters %+v, want one", tr.Enabled, tr.Exporters)
	}
	e := tr.Exporters[0]
	if e.Disabled || e.Exporter != "http" || e.Endpoint != "http://otel-collector.monitoring.svc:4318" || e.HTTPPath != "/v1/traces" {
		t.Errorf("exporter %+v, want OTLP/HTTP to the collector", e)
	}
	if !tr.Propagation.TraceContext || tr.Propagation.B3 || tr.Propagation.Jaeger || tr.Propagation.Datadog {
		t.Errorf("propagation %+v, want W3C trace context only", tr.Propagation)
	}
	if cfg.Telemetry.ServiceName != "careslot-router" {
		t.Errorf("service name %q", cfg.Telemetry.ServiceName)
	}
	// OTLP metrics stay off: the router's metrics go to Prometheus.
	if cfg.Telemetry.Metrics.OTLP.Enabled || len(cfg.Telemetry.Metrics.OTLP.Exporters) != 0 {
		t.Error("OTLP metrics on")
	}
	if _, err := router.Settings(router.Options{ListenAddr: "127.0.0.1:4000", ExecutionConfigPath: cfgPath,
		TracingEndpoint: "otel-collector:4318"}); err == nil {
		t.Error("an endpoint without a scheme was accepted")
	}
}
