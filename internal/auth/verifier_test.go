package auth

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/apperr"
)

// fastTiming keeps the background fetches quick; each test says what it
// needs beyond.
var fastTiming = jwksTiming{
	refreshEvery:    time.Hour,
	firstRetry:      10 * time.Millisecond,
	maxRetry:        100 * time.Millisecond,
	unknownKIDEvery: time.Hour,
	httpTimeout:     2 * time.Second,
}

// jwksServer is a real JWKS endpoint whose published keys and health the
// test changes, counting the fetches it answers.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	keys     []*DevKey
	down     bool
	fetches  atomic.Int64 // answered with keys
	failures atomic.Int64 // answered with an error
}

func newJWKSServer(t *testing.T, keys ...*DevKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.failures.Add(1)
		http.Error(w, "identity provider down", http.StatusServiceUnavailable)
		return
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, k := range s.keys {
		var one struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(k.jwks, &one); err != nil {
			panic(err)
		}
		set.Keys = append(set.Keys, one.Keys...)
	}
	s.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func (s *jwksServer) publish(keys ...*DevKey) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func verifierFor(t *testing.T, url string, timing jwksTiming) *JWKSVerifier {
	t.Helper()
	v, err := newJWKSVerifier(t.Context(), url, testIssuer, testAudience, timing)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A JWKS that is not listening when the service starts: requests are refused
// at once meanwhile (no wait), and the keys arrive by themselves once it
// listens, so the first request after that is served.
func TestKeysLoadInTheBackgroundOnceTheJWKSListens(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there yet: connections are refused

	v := verifierFor(t, "http://"+addr+JWKSPath, fastTiming)
	tok := mint(t, key, TokenClaims{Subject: "pat-1", Role: RolePatient})
	if err := v.Ready(t.Context()); err == nil {
		t.Fatal("ready without signing keys")
	}
	_, err = v.Verify(t.Context(), tok)
	wantCode(t, err, apperr.Unauthenticated)
	time.Sleep(200 * time.Millisecond) // several failed background attempts

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := httptest.NewUnstartedServer(key.JWKSHandler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	waitLoaded(t, v) // no request asked for them
	if err := v.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("first request once the keys loaded: %v", err)
	}
}

// While keys are cached, an outage of the JWKS refuses nobody: refreshes
// keep failing in the background and every token signed by a cached key,
// new ones included, is accepted.
func TestJWKSOutageWithCachedKeysRefusesNobody(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	srv := newJWKSServer(t, key)
	timing := fastTiming
	timing.refreshEvery = 10 * time.Millisecond
	v := verifierFor(t, srv.URL, timing)
	waitLoaded(t, v)

	srv.setDown(true)
	deadline := time.Now().Add(10 * time.Second)
	for srv.failures.Load() < 3 { // refreshes did fail
		if time.Now().After(deadline) {
			t.Fatal("no refresh tried during the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := v.Ready(t.Context()); err != nil {
		t.Fatalf("not ready during an outage with cached keys: %v", err)
	}
	for i := range 20 {
		// Distinct subjects: tokens never seen, not served from the verified cache.
		tok := mint(t, key, TokenClaims{Subject: "pat-" + string(rune('a'+i)), Role: RolePatient})
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("token %d refused during the outage: %v", i, err)
		}
	}

	// Back up: refreshes succeed again and the keys still verify.
	srv.setDown(false)
	before := srv.fetches.Load()
	for srv.fetches.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no refresh after the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.Verify(t.Context(), mint(t, key, TokenClaims{Subject: "after", Role: RolePatient})); err != nil {
		t.Fatal(err)
	}
}

// A token whose kid the cached set lacks refetches the set once; further
// unknown kids within the rate limit are refused without a fetch, however
// many arrive at once.
func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	srv := newJWKSServer(t, key)
	v := verifierFor(t, srv.URL, fastTiming)
	waitLoaded(t, v)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}

	stranger := newKey(t) // published nowhere
	_, err := v.Verify(t.Context(), mint(t, stranger, TokenClaims{Subject: "x", Role: RolePatient}))
	wantCode(t, err, apperr.Unauthenticated)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2 (one refetch)", n)
	}

	strangers := []*DevKey{stranger, newKey(t)}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			other := strangers[i%2]
			_, err := v.Verify(t.Context(), mint(t, other, TokenClaims{Subject: "x", Role: RolePatient}))
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Errorf("unknown kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after more unknown kids, want still 2 (rate limited)", n)
	}
	// The known key is unaffected.
	if _, err := v.Verify(t.Context(), mint(t, key, TokenClaims{Subject: "y", Role: RolePatient})); err != nil {
		t.Fatal(err)
	}
}

// A rotation: the provider publishes a new key beside the old one and signs
// with it. The first tokens of the new key, arriving together, share one
// refetch and are accepted; the old key's tokens stay valid.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newKey(t), newKey(t)
	srv := newJWKSServer(t, oldKey)
	v := verifierFor(t, srv.URL, fastTiming)
	waitLoaded(t, v)

	srv.publish(oldKey, newKey)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			tok := mint(t, newKey, TokenClaims{Subject: "rotated-" + string(rune('a'+i)), Role: RolePatient})
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Errorf("token of the new key: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (start, one refetch for the new kid)", n)
	}
	if _, err := v.Verify(t.Context(), mint(t, oldKey, TokenClaims{Subject: "old", Role: RolePatient})); err != nil {
		t.Fatalf("token of the old key after the rotation: %v", err)
	}
}
