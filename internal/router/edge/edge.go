// Package edge is what Careslot adds around the embedded Cosmo router at the public edge, where
// the router itself has no setting for it: the client's address behind trusted proxies, budgets
// per caller in Redis shared by every replica (HTTP 429, Retry-After, RATE_LIMITED), an
// extensions.code on every refusal, and WebSocket limits (subscriptions per connection,
// connections per subject, message size, keepalive). It plugs in the ways the router supports
// when embedded: a handler around the router's HTTP server and a router module (core.Module).
// Its settings are router-config/edge.yaml; docs/security.md describes the controls.
package edge

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/wundergraph/cosmo/router/core"

	"github.com/careslot/careslot/internal/auth"
)

// Config is what New needs.
type Config struct {
	Settings Settings
	// Redis holds the budgets and the WebSocket connection slots, shared by every replica. nil
	// turns both off (logged).
	Redis redis.UniversalClient
	// KeyPrefix starts every Redis key the edge writes.
	KeyPrefix string
	// Verifier checks the tokens WebSocket clients send in connection_init (the router checks
	// only the upgrade request's header). nil: WebSocket connections count per client address.
	Verifier auth.Verifier
	// Introspection is allowed (development only): the edge then lets introspection through
	// fragments too.
	Introspection bool
	Logger        *slog.Logger
}

// Edge holds the edge controls of one router process.
type Edge struct {
	s         Settings
	proxies   Proxies
	limiter   *limiter // nil: no budgets
	fragments fragmentCheck
	ws        *wsLimits
	log       *slog.Logger
}

// New builds the edge controls.
func New(c Config) (*Edge, error) {
	if err := c.Settings.Validate(); err != nil {
		return nil, err
	}
	proxies, err := ParseProxies(c.Settings.TrustedProxies)
	if err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &Edge{s: c.Settings, proxies: proxies, log: log,
		fragments: fragmentCheck{maxExpandedFields: int64(c.Settings.MaxExpandedFields), introspection: c.Introspection}}
	if c.Redis == nil && (c.Settings.RateLimits.Enabled || c.Settings.WebSocket.MaxConnectionsPerSubject > 0 || c.Settings.WebSocket.MaxConnectionsPerIP > 0) {
		log.Warn("edge: no Redis: rate limits and WebSocket connection limits are off")
	}
	if c.Redis != nil && c.Settings.RateLimits.Enabled {
		e.limiter = newLimiter(c.Redis, c.KeyPrefix+"rl:", log)
	}
	e.ws = newWSLimits(c.Settings.WebSocket, c.Redis, c.KeyPrefix+"ws:", c.Verifier, log)
	return e, nil
}

// Modules are the router modules to register with the router (core.WithCustomModules).
func (e *Edge) Modules() []core.Module {
	if e.limiter == nil {
		return nil
	}
	return []core.Module{&operationBudgets{l: e.limiter, s: e.s.RateLimits}}
}

// Handler wraps the router's HTTP handler.
func (e *Edge) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := e.proxies.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		c := client{addr: addr, key: AddrKey(addr)}
		// The router takes these headers, unchecked, as the client's address (chi's RealIP): let
		// only the edge's finding reach it.
		r.Header.Del("True-Client-IP")
		r.Header.Del("X-Real-IP")
		if addr.IsValid() {
			r.Header.Set("X-Real-IP", addr.String())
		}
		r = r.WithContext(withClient(r.Context(), c))

		if wait, blocked := e.limiter.exhausted(budgetRefusals, "ip:"+c.key); blocked {
			writeRateLimited(w, budgetRefusals, wait)
			return
		}
		if ref := e.fragments.check(r); ref != nil {
			writeError(w, ref.status, ref.err)
			e.limiter.take(r.Context(), budgetRefusals, e.s.RateLimits.Refusals, "ip:"+c.key)
			return
		}
		s := &shaper{w: w, req: r}
		if isWebSocketUpgrade(r) {
			// Opening a socket costs like a query: a client cannot churn connections for free.
			if ok, wait := e.limiter.take(r.Context(), budgetAnonymous, e.s.RateLimits.Anonymous, "ip:"+c.key); !ok {
				writeRateLimited(w, budgetAnonymous, wait)
				return
			}
			s.onHijack = func(conn net.Conn, rw *bufio.ReadWriter) (net.Conn, *bufio.ReadWriter) {
				return e.ws.guard(conn, rw, r, c), rw
			}
		}
		next.ServeHTTP(s, r)
		s.finish()
		if s.refused {
			// Spent after the fact: once the budget is gone, exhausted refuses up front.
			e.limiter.take(r.Context(), budgetRefusals, e.s.RateLimits.Refusals, "ip:"+c.key)
		}
	})
}

// Close ends the edge's background work.
func (e *Edge) Close() { e.ws.close() }

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

var errClosed = errors.New("edge: connection closed")
