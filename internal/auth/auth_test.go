package auth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careslot/careslot/internal/apperr"
)

const (
	testIssuer   = "careslot-test"
	testAudience = "careslot"
)

func newKey(t *testing.T) *DevKey {
	t.Helper()
	k, err := LoadOrCreateDevKey(filepath.Join(t.TempDir(), "keys", "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newVerifier(t *testing.T, key *DevKey) *JWKSVerifier {
	t.Helper()
	srv := httptest.NewServer(key.JWKSHandler())
	t.Cleanup(srv.Close)
	v, err := NewJWKSVerifier(t.Context(), srv.URL, testIssuer, testAudience)
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, v)
	return v
}

// waitLoaded waits (10 s at most) for v's first successful JWKS fetch.
func waitLoaded(t *testing.T, v *JWKSVerifier) {
	t.Helper()
	select {
	case <-v.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatalf("signing keys never loaded: %v", v.Ready(t.Context()))
	}
}

func mint(t *testing.T, key *DevKey, c TokenClaims) string {
	t.Helper()
	if c.Issuer == "" {
		c.Issuer = testIssuer
	}
	if c.Audience == "" {
		c.Audience = testAudience
	}
	tok, err := key.Mint(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); err == nil || got != code {
		t.Fatalf("error %v: want code %s", err, code)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	v := newVerifier(t, key)

	tok := mint(t, key, TokenClaims{Subject: "sec-1", Role: RoleSecretary, Practitioners: []string{"pr-1", "pr-2"}})
	p, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "sec-1" || p.Role != RoleSecretary || len(p.Practitioners) != 2 || p.Practitioners[1] != "pr-2" {
		t.Fatalf("principal = %+v", p)
	}

	now := time.Now()
	valid := func() tokenClaims {
		return tokenClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject: "pat-1", Issuer: testIssuer, Audience: jwt.ClaimStrings{testAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			},
			Role: string(RolePatient),
		}
	}
	signed := func(k *DevKey, c tokenClaims) string {
		s, err := k.sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := v.Verify(t.Context(), signed(key, valid())); err != nil {
		t.Fatalf("valid token rejected: %v", err)
	}

	bad := map[string]string{
		"expired": signed(key, func() tokenClaims {
			c := valid()
			c.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
			return c
		}()),
		"no exp": signed(key, func() tokenClaims { c := valid(); c.ExpiresAt = nil; return c }()),
		"wrong issuer": signed(key, func() tokenClaims {
			c := valid()
			c.Issuer = "someone-else"
			return c
		}()),
		"wrong audience": signed(key, func() tokenClaims {
			c := valid()
			c.Audience = jwt.ClaimStrings{"other"}
			return c
		}()),
		"unknown role": signed(key, func() tokenClaims { c := valid(); c.Role = "root"; return c }()),
		"no role":      signed(key, func() tokenClaims { c := valid(); c.Role = ""; return c }()),
		"missing sub":  signed(key, func() tokenClaims { c := valid(); c.Subject = ""; return c }()),
		"wrong key":    signed(newKey(t), valid()),
		"forged kid": func() string {
			other := *newKey(t)
			other.kid = key.kid // claims to be our key, signed by another
			return signed(&other, valid())
		}(),
		"tampered": signed(key, valid())[:40] + "x" + signed(key, valid())[41:],
		"hs256": func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, valid()).SignedString([]byte("secret"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(),
		"garbage": "not-a-jwt",
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tok)
			wantCode(t, err, apperr.Unauthenticated)
		})
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	v := newVerifier(t, key)
	var got *Principal
	h := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = nil
		if p, ok := FromContext(r.Context()); ok {
			got = &p
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	do := func(authz string) *httptest.ResponseRecorder {
		got = nil
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	if w := do(""); w.Code != http.StatusNoContent || got != nil {
		t.Fatalf("anonymous: status %d, principal %v", w.Code, got)
	}

	for _, authz := range []string{"Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer " + mint(t, newKey(t), TokenClaims{Subject: "x", Role: RoleAdmin})} {
		w := do(authz)
		if w.Code != http.StatusUnauthorized || got != nil {
			t.Fatalf("%q: status %d, principal %v", authz, w.Code, got)
		}
		var body struct {
			Errors []struct {
				Message    string `json:"message"`
				Extensions struct {
					Code string `json:"code"`
				} `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%q: body %s: %v", authz, w.Body, err)
		}
		if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" || body.Errors[0].Message == "" {
			t.Fatalf("%q: body %s", authz, w.Body)
		}
	}

	tok := mint(t, key, TokenClaims{Subject: "pr-1", Role: RolePractitioner})
	if w := do("bearer " + tok); w.Code != http.StatusNoContent || got == nil || got.Subject != "pr-1" || got.Role != RolePractitioner {
		t.Fatalf("valid: status %d, principal %+v", w.Code, got)
	}
}

func TestFromConnectionInit(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	v := newVerifier(t, key)
	tok := mint(t, key, TokenClaims{Subject: "pat-1", Role: RolePatient})

	for _, payload := range []map[string]any{
		{"Authorization": "Bearer " + tok},
		{"authorization": "Bearer " + tok},
		{"authorization": tok},
	} {
		ctx, err := FromConnectionInit(t.Context(), v, payload)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := FromContext(ctx); !ok || p.Subject != "pat-1" {
			t.Fatalf("%v: principal %+v, %v", payload, p, ok)
		}
	}

	// No token: the principal from the upgrade request (if any) is kept.
	base := WithPrincipal(t.Context(), Principal{Subject: "pat-2", Account: "pat-2", Role: RolePatient})
	ctx, err := FromConnectionInit(base, v, map[string]any{})
	if p, _ := FromContext(ctx); err != nil || p.Subject != "pat-2" {
		t.Fatalf("empty payload: %+v, %v", p, err)
	}

	_, err = FromConnectionInit(t.Context(), v, map[string]any{"Authorization": "Bearer nonsense"})
	wantCode(t, err, apperr.Unauthenticated)
	_, err = FromConnectionInit(t.Context(), v, map[string]any{"Authorization": 42})
	wantCode(t, err, apperr.Unauthenticated)
}

func TestRequireRole(t *testing.T) {
	t.Parallel()
	anon := context.Background()
	patient := WithPrincipal(anon, Principal{Subject: "pat-1", Account: "pat-1", Role: RolePatient})
	admin := WithPrincipal(anon, Principal{Subject: "adm-1", Account: "adm-1", Role: RoleAdmin})

	_, err := RequirePatient(anon)
	wantCode(t, err, apperr.Unauthenticated)
	if p, err := RequirePatient(patient); err != nil || p.Subject != "pat-1" {
		t.Fatalf("patient: %+v, %v", p, err)
	}
	_, err = RequirePatient(admin)
	wantCode(t, err, apperr.Forbidden)
	_, err = RequireAdmin(patient)
	wantCode(t, err, apperr.Forbidden)
	if _, err := RequireAdmin(admin); err != nil {
		t.Fatal(err)
	}
	if _, err := RequireRole(patient); err != nil {
		t.Fatalf("any authenticated caller: %v", err)
	}
	if _, err := RequireRole(admin, RolePractitioner, RoleAdmin); err != nil {
		t.Fatal(err)
	}
}

func TestActingPractitioner(t *testing.T) {
	t.Parallel()
	as := func(p Principal) context.Context { return WithPrincipal(context.Background(), p) }
	practitioner := as(Principal{Subject: "pr-1", Account: "pr-1", Role: RolePractitioner})
	secretary1 := as(Principal{Subject: "sec-1", Account: "sec-1", Role: RoleSecretary, Practitioners: []string{"pr-1"}})
	secretary2 := as(Principal{Subject: "sec-2", Account: "sec-2", Role: RoleSecretary, Practitioners: []string{"pr-1", "pr-2"}})
	admin := as(Principal{Subject: "adm-1", Account: "adm-1", Role: RoleAdmin})
	patient := as(Principal{Subject: "pat-1", Account: "pat-1", Role: RolePatient})

	cases := []struct {
		name      string
		ctx       context.Context
		requested string
		want      string
		code      apperr.Code // empty: success
	}{
		{"anonymous", context.Background(), "pr-1", "", apperr.Unauthenticated},
		{"practitioner self implicit", practitioner, "", "pr-1", ""},
		{"practitioner self explicit", practitioner, "pr-1", "pr-1", ""},
		{"practitioner other", practitioner, "pr-2", "", apperr.Forbidden},
		{"secretary only practitioner", secretary1, "", "pr-1", ""},
		{"secretary named", secretary2, "pr-2", "pr-2", ""},
		{"secretary ambiguous", secretary2, "", "", apperr.InvalidInput},
		{"secretary not named", secretary1, "pr-2", "", apperr.Forbidden},
		{"admin any", admin, "pr-9", "pr-9", ""},
		{"admin none", admin, "", "", apperr.InvalidInput},
		{"patient", patient, "pr-1", "", apperr.Forbidden},
	}
	for _, c := range cases {
		got, err := ActingPractitioner(c.ctx, c.requested)
		if c.code == "" {
			if err != nil || got != c.want {
				t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
			}
			continue
		}
		if apperr.CodeOf(err) != c.code || err == nil {
			t.Errorf("%s: got %q, %v; want code %s", c.name, got, err, c.code)
		}
		if e, ok := apperr.As(err); c.code == apperr.InvalidInput && (!ok || e.Field != "practitionerId") {
			t.Errorf("%s: want field practitionerId, got %v", c.name, err)
		}
	}

	for _, c := range []struct {
		p    Principal
		id   string
		want bool
	}{
		{Principal{Subject: "pr-1", Account: "pr-1", Role: RolePractitioner}, "pr-1", true},
		{Principal{Subject: "pr-1", Account: "pr-1", Role: RolePractitioner}, "pr-2", false},
		{Principal{Subject: "sec-1", Account: "sec-1", Role: RoleSecretary, Practitioners: []string{"pr-1"}}, "pr-1", true},
		{Principal{Subject: "sec-1", Account: "sec-1", Role: RoleSecretary, Practitioners: []string{"pr-1"}}, "pr-2", false},
		{Principal{Subject: "adm-1", Account: "adm-1", Role: RoleAdmin}, "pr-2", true},
		{Principal{Subject: "pat-1", Account: "pat-1", Role: RolePatient}, "pr-1", false},
		{Principal{Subject: "adm-1", Account: "adm-1", Role: RoleAdmin}, "", false},
	} {
		if got := CanActForPractitioner(c.p, c.id); got != c.want {
			t.Errorf("CanActForPractitioner(%+v, %q) = %v", c.p, c.id, got)
		}
	}
}

func TestLoadOrCreateDevKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new-dir", "dev.pem")
	a, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() || !a.key.Equal(b.key) {
		t.Fatal("second load returned a different key")
	}

	// A token minted with one load verifies against the JWKS of the other.
	v := newVerifier(t, b)
	tok := mint(t, a, TokenClaims{Subject: "pat-1", Role: RolePatient})
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}

	if _, err := a.Mint(TokenClaims{Subject: "x", Role: "root", Issuer: testIssuer, Audience: testAudience}, time.Hour); err == nil {
		t.Fatal("minted a token with an unknown role")
	}
}

func TestServeJWKS(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // find a free port
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeJWKS(ctx, addr, key) }()

	// The verifier may start first: it fetches the JWKS once the server is up.
	v, err := NewJWKSVerifier(t.Context(), "http://"+addr+JWKSPath, testIssuer, testAudience)
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, v)
	if _, err := v.Verify(t.Context(), mint(t, key, TokenClaims{Subject: "adm-1", Role: RoleAdmin})); err != nil {
		t.Fatal(err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeJWKS after cancel: %v", err)
	}
}
