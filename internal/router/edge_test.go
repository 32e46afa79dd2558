package router_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/testenv"
)

const (
	testIssuer   = "test-issuer"
	testAudience = "careslot"
)

// patientClaims are the claims of a valid patient token for sub.
func patientClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub, "iss": testIssuer, "aud": testAudience, "role": "patient",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// edgeSettings are the committed edge settings with change applied.
func edgeSettings(t testing.TB, change func(*edge.Settings)) *edge.Settings {
	t.Helper()
	s, err := edge.DefaultSettings()
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return &s
}

// withEdge runs the router with settings, the test's Redis and a verifier for init tokens.
func withEdge(s *edge.Settings, rdb redis.UniversalClient, prefix string) func(*router.Options) {
	return func(o *router.Options) {
		o.Edge = s
		o.Redis = rdb
		o.RedisPrefix = prefix
		o.JWTIssuer = testIssuer
		o.JWTAudience = testAudience
	}
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   struct {
		Data   map[string]any `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	hasData bool
	elapsed time.Duration
}

func (a answer) code() string {
	if len(a.body.Errors) == 0 {
		return ""
	}
	c, _ := a.body.Errors[0].Extensions["code"].(string)
	return c
}

// call sends one request; headers are name, value pairs.
func call(t testing.TB, client *http.Client, method, url, contentType string, body []byte, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw), elapsed: time.Since(began)}
	_ = json.Unmarshal(raw, &a.body)
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top)
	_, a.hasData = top["data"]
	return a
}

func query(q string) []byte {
	b, _ := json.Marshal(map[string]any{"query": q})
	return b
}

// TestBadTokensAreUnauthenticated holds the six kinds of bad bearer token to one answer: HTTP 401,
// a GraphQL error with extensions.code UNAUTHENTICATED and no data, WWW-Authenticate, and nothing
// reaching a subgraph.
func TestBadTokensAreUnauthenticated(t *testing.T) {
	e := start(t, func(o *router.Options) { o.JWTAudience = testAudience })
	good := sign(t, e.jwks.key, "test-key", patientClaims("patient-1"))
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	swapped, _ := json.Marshal(patientClaims("patient-2")) // another subject under patient-1's signature
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"test-key"}`)) + "." + parts[1] + "."
	expiredClaims := patientClaims("patient-1")
	expiredClaims["iat"], expiredClaims["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	wrongAudience := patientClaims("patient-1")
	wrongAudience["aud"] = "someone-else"

	if a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"), "Authorization", "Bearer "+good); a.status != 200 || a.body.Data["hello"] != "world" {
		t.Fatalf("a good token is refused: %d %s", a.status, a.raw)
	}
	for _, c := range []struct{ name, token, message string }{
		{"garbage", "Bearer 2f9a.c0ffee..!", "malformed"},
		{"alg none", "Bearer " + none, "not valid"},
		{"another key with the same kid", "Bearer " + sign(t, other, "test-key", patientClaims("patient-1")), "not valid"},
		{"payload swapped under a valid signature", "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(swapped) + "." + parts[2], "not valid"},
		{"expired", "Bearer " + sign(t, e.jwks.key, "test-key", expiredClaims), "expired"},
		{"wrong audience", "Bearer " + sign(t, e.jwks.key, "test-key", wrongAudience), "not valid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, before := e.up.lastAuth()
			a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"), "Authorization", c.token)
			if a.status != http.StatusUnauthorized || a.code() != edge.CodeUnauthenticated || a.hasData || len(a.body.Errors) != 1 {
				t.Fatalf("status %d, body %s: want 401 and one error UNAUTHENTICATED, no data", a.status, a.raw)
			}
			if !strings.Contains(a.body.Errors[0].Message, c.message) {
				t.Errorf("message %q does not say %q", a.body.Errors[0].Message, c.message)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q", a.header.Get("Content-Type"))
			}
			if _, after := e.up.lastAuth(); after != before {
				t.Error("the request reached the subgraph")
			}
		})
	}
}

// TestRefusalsCarryCodes: every refusal the router gives before running an operation answers in
// GraphQL-over-HTTP shape (errors, no data) with an extensions.code a client can act on.
func TestRefusalsCarryCodes(t *testing.T) {
	e := start(t)
	deep := "{ node { " + strings.Repeat("child { ", 20) + "name" + strings.Repeat(" }", 20) + " } }"
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 1000 {
		fmt.Fprintf(&aliases, "a%d: hello ", i)
	}
	aliases.WriteString("}")
	for _, c := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		status      int
		code        string
	}{
		{"too deep", "POST", "application/json", query(deep), 400, edge.CodeQueryTooComplex},
		{"1,000 aliases", "POST", "application/json", query(aliases.String()), 400, edge.CodeQueryTooComplex},
		{"body over 1 MB", "POST", "application/json", query("{ hello }" + strings.Repeat(" ", 2<<20)), 413, edge.CodeRequestTooLarge},
		{"not JSON", "POST", "application/json", []byte("{ hello"), 400, edge.CodeBadRequest},
		{"syntax error", "POST", "application/json", query("{ hello "), 200, edge.CodeParseFailed},
		{"unknown field", "POST", "application/json", query("{ nope }"), 200, edge.CodeValidationFailed},
		{"introspection off", "POST", "application/json", query("{ __schema { types { name } } }"), 200, edge.CodeIntrospectionDisabled},
		{"introspection in a fragment", "POST", "application/json", query("query { ...I } fragment I on Query { __schema { types { name } } }"), 200, edge.CodeIntrospectionDisabled},
		{"fragment bomb", "POST", "application/json", query(fragmentBomb(20)), 400, edge.CodeQueryTooComplex},
		{"mutation over GET", "GET", "", nil, 405, edge.CodeBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := e.url
			if c.method == "GET" {
				url += "?query=" + strings.ReplaceAll("mutation{ping}", " ", "%20")
			}
			a := call(t, http.DefaultClient, c.method, url, c.contentType, c.body)
			if a.status != c.status || a.code() != c.code || a.hasData {
				t.Fatalf("status %d code %q, body %.300s: want %d %s and no data", a.status, a.code(), a.raw, c.status, c.code)
			}
			t.Logf("%d %s", a.status, a.raw)
		})
	}
}

// fragmentBomb is a small document whose fragments spread the next one twice, levels deep: its
// expansion doubles at each level.
func fragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 } ")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Query { x%d: hello ...F%d ...F%d } ", i, i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { hello }", levels)
	return b.String()
}

// TestRateLimitThrottlesTheFlooder floods from one client address and shows it throttled (429,
// Retry-After, RATE_LIMITED) while a second address keeps its normal latency (figures logged).
func TestRateLimitThrottlesTheFlooder(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.TrustedProxies = []string{"127.0.0.1"} // the test plays the load balancer
		s.RateLimits.Anonymous = edge.Budget{Rate: 20, Burst: 20, Period: time.Second}
	})
	e := start(t, withEdge(s, rdb, prefix))

	// The quiet client's normal latency, alone.
	quiet := func(n int) []time.Duration {
		var ds []time.Duration
		for range n {
			a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"), "X-Forwarded-For", "203.0.113.2")
			if a.status != 200 {
				t.Errorf("the quiet client was refused: %d %s", a.status, a.raw)
			}
			ds = append(ds, a.elapsed)
			time.Sleep(100 * time.Millisecond) // 10/s, well inside its budget
		}
		return ds
	}
	alone := quiet(10)

	var flooded, throttled, other atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"),
					"X-Forwarded-For", "198.51.100.7, 10.1.2.3", "X-Forwarded-For", "203.0.113.1")
				flooded.Add(1)
				switch {
				case a.status == http.StatusTooManyRequests:
					throttled.Add(1)
					secs, err := strconv.Atoi(a.header.Get("Retry-After"))
					if err != nil || secs < 1 || a.code() != edge.CodeRateLimited || a.hasData {
						t.Errorf("429 without Retry-After or RATE_LIMITED: %v %s", a.header, a.raw)
					}
				case a.status == 200:
				default:
					other.Add(1)
					t.Errorf("flood answer %d %s", a.status, a.raw)
				}
			}
		}()
	}
	began := time.Now()
	time.Sleep(300 * time.Millisecond) // the flood is under way
	during := quiet(20)
	close(stop)
	wg.Wait()
	elapsed := time.Since(began)

	if throttled.Load() == 0 {
		t.Fatalf("%d flood requests, none throttled", flooded.Load())
	}
	// Burst + rate × duration, with a margin for the requests in flight at either end.
	if ok, most := flooded.Load()-throttled.Load(), int64(20+20*elapsed.Seconds()*1.2+8); ok > most {
		t.Errorf("the flooder got %d requests through a budget of 20/s in %s (at most %d)", ok, elapsed, most)
	}
	t.Logf("flood: %d requests, %d throttled; quiet client alone p50 %s max %s, during the flood p50 %s max %s",
		flooded.Load(), throttled.Load(), pct(alone, 0.5), pct(alone, 1), pct(during, 0.5), pct(during, 1))
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestRateLimitBudgetsAreSeparate: anonymous queries, authenticated queries (per subject) and
// mutations each spend their own budget.
func TestRateLimitBudgetsAreSeparate(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		hour := edge.Budget{Rate: 3, Burst: 3, Period: time.Hour} // nothing refills during the test
		s.RateLimits.Anonymous, s.RateLimits.Authenticated, s.RateLimits.Mutations = hour, hour, hour
	})
	e := start(t, withEdge(s, rdb, prefix))
	ana := "Bearer " + sign(t, e.jwks.key, "test-key", patientClaims("ana"))
	ben := "Bearer " + sign(t, e.jwks.key, "test-key", patientClaims("ben"))
	spend := func(q, authz string) (ok int, budget string) {
		for range 5 {
			var h []string
			if authz != "" {
				h = []string{"Authorization", authz}
			}
			a := call(t, http.DefaultClient, "POST", e.url, "application/json", query(q), h...)
			switch a.status {
			case 200:
				ok++
			case 429:
				budget, _ = a.body.Errors[0].Extensions["budget"].(string)
			default:
				t.Fatalf("%d %s", a.status, a.raw)
			}
		}
		return ok, budget
	}
	for _, c := range []struct {
		name, query, authz, budget string
	}{
		{"anonymous queries", "{ hello }", "", "anonymous"},
		{"ana's queries", "{ hello }", ana, "authenticated"},
		{"ben's queries", "{ hello }", ben, "authenticated"},
		{"anonymous mutations", "mutation { ping }", "", "mutations"},
		{"ana's mutations", "mutation { ping }", ana, "mutations"},
	} {
		if ok, budget := spend(c.query, c.authz); ok != 3 || budget != c.budget {
			t.Errorf("%s: %d of 5 passed, refused from budget %q; want 3 and %q", c.name, ok, budget, c.budget)
		}
	}
}

// TestRateLimitIsSharedByReplicas: two routers on one Redis spend one budget per client.
func TestRateLimitIsSharedByReplicas(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.RateLimits.Anonymous = edge.Budget{Rate: 5, Burst: 5, Period: time.Hour}
	})
	up, keys := newUpstream(t), newJWKS(t)
	a, b := startWith(t, up, keys, withEdge(s, rdb, prefix)), startWith(t, up, keys, withEdge(s, rdb, prefix))
	ok := 0
	for i := range 12 {
		url := a.url
		if i%2 == 1 {
			url = b.url
		}
		if call(t, http.DefaultClient, "POST", url, "application/json", query("{ hello }")).status == 200 {
			ok++
		}
	}
	if ok != 5 {
		t.Errorf("%d of 12 requests through two replicas passed, want the shared budget's 5", ok)
	}
}

// TestRateLimitLetsRequestsThroughWithoutRedis: an unreachable budget store throttles nothing
// and fails nothing.
func TestRateLimitLetsRequestsThroughWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: freeAddr(t), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	s := edgeSettings(t, func(s *edge.Settings) {
		s.RateLimits.Anonymous = edge.Budget{Rate: 1, Burst: 1, Period: time.Hour}
	})
	e := start(t, withEdge(s, dead, "x:"))
	for range 5 {
		if a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }")); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
	}
}

// TestRepeatedRefusalsAreThrottled: a client that keeps sending what the edge refuses (here bad
// tokens) is refused outright once its refusal budget is spent.
func TestRepeatedRefusalsAreThrottled(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.RateLimits.Refusals = edge.Budget{Rate: 1, Burst: 5, Period: time.Hour}
	})
	e := start(t, withEdge(s, rdb, prefix))
	var statuses []int
	for range 10 {
		statuses = append(statuses, call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"), "Authorization", "Bearer nope").status)
	}
	want := []int{401, 401, 401, 401, 401, 401, 429, 429, 429, 429} // 5 in the burst, the 6th finds it spent
	if !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	a := call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"))
	if a.status != 429 || a.code() != edge.CodeRateLimited || a.header.Get("Retry-After") == "" {
		t.Errorf("a blocked client's good request: %d %s", a.status, a.raw)
	}
}

// TestForwardedForIsBelievedOnlyFromTrustedProxies: X-Forwarded-For from an untrusted peer does
// not give a flooder a fresh budget per request.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	s := edgeSettings(t, func(s *edge.Settings) {
		s.TrustedProxies = nil
		s.RateLimits.Anonymous = edge.Budget{Rate: 3, Burst: 3, Period: time.Hour}
	})
	e := start(t, withEdge(s, rdb, prefix))
	ok := 0
	for i := range 6 {
		spoof := fmt.Sprintf("198.51.100.%d", i+1)
		if call(t, http.DefaultClient, "POST", e.url, "application/json", query("{ hello }"),
			"X-Forwarded-For", spoof, "X-Real-IP", spoof, "True-Client-IP", spoof).status == 200 {
			ok++
		}
	}
	if ok != 3 {
		t.Errorf("%d of 6 requests with spoofed client addresses passed, want 3", ok)
	}
}
