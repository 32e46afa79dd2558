package edge

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/wundergraph/cosmo/router/core"
	"github.com/wundergraph/cosmo/router/pkg/authentication"
)

// Budget names, as they appear in Redis keys and in a refusal's extensions.budget.
const (
	budgetAnonymous     = "anonymous"
	budgetAuthenticated = "authenticated"
	budgetMutations     = "mutations"
	budgetRefusals      = "refusals"
)

// limiter spends budgets in Redis with the GCRA of go-redis/redis_rate, the library (and the
// algorithm) of the Cosmo router's own rate limiter, so every replica shares one budget per key.
type limiter struct {
	rl      *redis_rate.Limiter
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	// spent remembers, per budget and key, until when Redis said no: a flooder is then refused
	// from memory, without a round trip per request, until it may try again.
	spent blocklist

	lastComplaint atomic.Int64 // unix nanos of the last "Redis failed" log line
}

func newLimiter(rdb redis.UniversalClient, prefix string, log *slog.Logger) *limiter {
	return &limiter{rl: redis_rate.NewLimiter(rdb), prefix: prefix, timeout: 100 * time.Millisecond, log: log}
}

// take spends one request of budget b under key. It answers allowed when Redis cannot be
// reached in time (fail open: throttling must never stop booking) and logs that at most every
// ten seconds.
func (l *limiter) take(ctx context.Context, name string, b Budget, key string) (allowed bool, retryAfter time.Duration) {
	if l == nil || b.Unlimited() {
		return true, 0
	}
	id := name + ":" + key
	if wait, spent := l.spent.blocked(id, time.Now()); spent {
		return false, wait
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := l.rl.Allow(ctx, l.prefix+id, redis_rate.Limit{Rate: b.Rate, Burst: b.Burst, Period: b.Period})
	if err != nil {
		now := time.Now().UnixNano()
		if last := l.lastComplaint.Load(); now-last > int64(10*time.Second) && l.lastComplaint.CompareAndSwap(last, now) {
			l.log.Warn("edge: rate limit store unavailable; letting requests through", "error", err)
		}
		return true, 0
	}
	if res.Allowed > 0 {
		return true, 0
	}
	l.spent.block(id, res.RetryAfter, time.Now())
	return false, res.RetryAfter
}

// exhausted reports whether key's budget is known to be spent, and for how long still, without
// spending from it.
func (l *limiter) exhausted(name, key string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	return l.spent.blocked(name+":"+key, time.Now())
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1 (what Retry-After can say).
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// writeRateLimited answers 429 with Retry-After and a GraphQL error RATE_LIMITED.
func writeRateLimited(w http.ResponseWriter, budget string, retryAfter time.Duration) {
	secs := retryAfterSeconds(retryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, gqlError{
		Message: "too many requests: retry after " + strconv.Itoa(secs) + "s",
		Extensions: map[string]any{
			"code": CodeRateLimited, "budget": budget, "retryAfterSeconds": secs,
		},
	})
}

// operationBudgets is a Cosmo router module: it runs once the router has authenticated, parsed
// and validated an operation (so its type and caller are known) and before anything executes,
// and spends the caller's budget for it: mutations from the mutation budget, other operations
// from the authenticated (per subject) or anonymous (per address) one.
type operationBudgets struct {
	l *limiter
	s RateLimits
}

const operationBudgetsModuleID = "careslot_operation_budgets"

// Module implements core.Module. New returns this instance: its settings come from edge.yaml,
// not from router.yaml's modules section.
func (m *operationBudgets) Module() core.ModuleInfo {
	return core.ModuleInfo{ID: operationBudgetsModuleID, Priority: 1, New: func() core.Module { return m }}
}

// Middleware implements core.RouterMiddlewareHandler.
func (m *operationBudgets) Middleware(ctx core.RequestContext, next http.Handler) {
	r, w := ctx.Request(), ctx.ResponseWriter()
	name, b, key := m.classify(ctx)
	if ok, wait := m.l.take(r.Context(), name, b, key); !ok {
		writeRateLimited(w, name, wait)
		return
	}
	next.ServeHTTP(w, r)
}

func (m *operationBudgets) classify(ctx core.RequestContext) (name string, b Budget, key string) {
	key = "ip:" + clientFrom(ctx.Request()).key
	if sub := subjectOf(ctx.Authentication()); sub != "" {
		key = "sub:" + sub
	}
	if op := ctx.Operation(); op != nil && op.Type() == "mutation" {
		return budgetMutations, m.s.Mutations, key
	}
	if key[0] == 's' {
		return budgetAuthenticated, m.s.Authenticated, key
	}
	return budgetAnonymous, m.s.Anonymous, key
}

// subjectOf is the caller's identity for budgets: issuer and subject of a token the router
// verified ("" when anonymous).
func subjectOf(a authentication.Authentication) string {
	if a == nil {
		return ""
	}
	claims := a.Claims()
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return ""
	}
	iss, _ := claims["iss"].(string)
	return iss + "|" + sub
}

// blocklist remembers, in this process, which budgets ran out and until when (the budgets
// themselves are shared in Redis; each replica learns of an exhausted one at its next attempt).
type blocklist struct {
	mu    sync.Mutex
	until map[string]time.Time
}

const blocklistMax = 100_000

func (b *blocklist) blocked(key string, now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[key]
	if !ok {
		return 0, false
	}
	if !now.Before(t) {
		delete(b.until, key)
		return 0, false
	}
	return t.Sub(now), true
}

func (b *blocklist) block(key string, d time.Duration, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until = make(map[string]time.Time)
	}
	if len(b.until) >= blocklistMax { // bounded: drop what expired, else start over
		for k, t := range b.until {
			if !now.Before(t) {
				delete(b.until, k)
			}
		}
		if len(b.until) >= blocklistMax {
			clear(b.until)
		}
	}
	b.until[key] = now.Add(d)
}
