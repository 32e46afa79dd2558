package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/oauth2"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
)

// TestRealProviderThroughTheRouter: a real OpenID provider (zitadel/oidc's
// op package, with its example in-memory storage and login page) started by
// the test issues ID tokens by the authorization code flow with PKCE for two
// users. The whole system trusts only that provider (its discovery, JWKS,
// issuer and the client as audience; a patient role for tokens without a
// role claim, as a national provider sends). The first user registers
// through the router with their token; their account is
// AccountID(issuer, sub); the second user's token reaches none of the first's
// data, nor does a token of the development key.
func TestRealProviderThroughTheRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole system")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	const clientID, redirect = "careslot-web", "http://localhost/auth/callback"
	store := &rotatingStorage{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		clientID: storage.NativeClient(clientID, redirect),
	})}
	store.rotate(t, true) // key 1
	prev := slog.Default()
	provider := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, store, slog.New(slog.NewTextHandler(io.Discard, nil)), false))
	slog.SetDefault(prev)
	provider.Listener = ln
	provider.Start()
	t.Cleanup(provider.Close)

	var disc struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	getJSON(t, issuer+"/.well-known/openid-configuration", &disc)

	t.Setenv("OIDC_DEFAULT_ROLE", "patient")
	s, stop, err := newStackWith(t, func(c *config.Config) {
		c.JWKSURL, c.OIDCIssuer, c.OIDCAudience = disc.JWKSURI, issuer, clientID
	})
	t.Cleanup(func() {
		if stop != nil {
			stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	login := func(username string) (idToken, subject string) {
		t.Helper()
		conf := oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email"},
			Endpoint: oauth2.Endpoint{AuthURL: disc.AuthorizationEndpoint, TokenURL: disc.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
		verifier := oauth2.GenerateVerifier()
		state := rand.Text()
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		// The provider sends the browser to its login page, the user signs in,
		// and the provider sends them back to the client with a code.
		res, err := noFollow.Get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loginURL, err := res.Location()
		if err != nil {
			t.Fatalf("authorize: %s without a login page", res.Status)
		}
		res, err = noFollow.PostForm(issuer+"/login/username", url.Values{"id": {loginURL.Query().Get("authRequestID")},
			"username": {username}, "password": {"verysecure"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		next, err := res.Location()
		if err != nil {
			t.Fatalf("login: %s", res.Status)
		}
		for !strings.HasPrefix(next.String(), redirect) {
			if res, err = noFollow.Get(next.String()); err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if next, err = res.Location(); err != nil {
				t.Fatalf("callback: %s", res.Status)
			}
		}
		if next.Query().Get("state") != state || next.Query().Get("code") == "" {
			t.Fatalf("redirect %s", next)
		}
		tok, err := conf.Exchange(context.Background(), next.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		idToken, _ = tok.Extra("id_token").(string)
		if idToken == "" {
			t.Fatal("no ID token")
		}
		// The token's subject, as the provider knows the user.
		parts := strings.Split(idToken, ".")
		var claims struct{ Sub string }
		b, _ := base64URLDecode(parts[1])
		_ = json.Unmarshal(b, &claims)
		return idToken, claims.Sub
	}

	firstTok, firstSub := login("test-user@127.0.0.1")
	var reg struct {
		RegisterPatient struct{ Patient struct{ ID string } }
	}
	s.run(t, firstTok, s.op(t, "RegisterPatient"), map[string]any{"input": map[string]any{
		"firstName": "Test", "lastName": "User", "email": fmt.Sprintf("oidc.%d@example.org", time.Now().UnixNano()),
		"birthDate": "1990-01-02", "country": "fr"}}, &reg)
	id := reg.RegisterPatient.Patient.ID
	if id != auth.AccountID(issuer, firstSub) {
		t.Fatalf("account %s is not AccountID(%s, %s)", id, issuer, firstSub)
	}
	var me struct {
		Me struct{ ID, FirstName string }
	}
	s.run(t, firstTok, s.op(t, "MyAccount"), nil, &me)
	if me.Me.ID != id {
		t.Fatalf("me = %+v", me.Me)
	}

	// Another user of the same provider reaches nothing of the first's.
	secondTok, secondSub := login("test-user2")
	if secondSub == firstSub {
		t.Fatal("two users, one subject")
	}
	if codes := s.errorCodes(t, secondTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "NOT_FOUND") {
		t.Fatalf("the second user's me: %v", codes)
	}
	// Key rotation: the provider publishes a second key and signs with it.
	// The first user's token (old key) stays valid until it expires; a token
	// of the new key, unknown to the system until now, is accepted once the
	// keys are fetched again (unknown kid); a key nobody publishes is refused.
	store.rotate(t, true) // key 2, key 1 still published
	rotatedTok, rotatedSub := login("test-user2")
	if rotatedSub != secondSub || kidOf(t, rotatedTok) == kidOf(t, secondTok) {
		t.Fatal("the provider did not sign with its new key")
	}
	s.run(t, firstTok, s.op(t, "MyAccount"), nil, &me)
	if me.Me.ID != id {
		t.Fatalf("the old key's token after the rotation: %+v", me.Me)
	}
	eventually(t, "a token of the new key accepted", func() string {
		if codes := s.errorCodes(t, rotatedTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "NOT_FOUND") {
			return fmt.Sprintf("%v", codes)
		}
		return ""
	})
	store.rotate(t, false) // key 3, signing but not published
	unpublishedTok, _ := login("test-user2")
	if codes := s.errorCodes(t, unpublishedTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "UNAUTHENTICATED") {
		t.Fatalf("a token of an unpublished key: %v", codes)
	}

	// A token of another issuer (the development key), even with the
	// account id as its subject, is refused.
	devTok := s.token(t, auth.RolePatient, id)
	if codes := s.errorCodes(t, devTok, s.op(t, "MyAccount"), nil); !slices.Contains(codes, "UNAUTHENTICATED") {
		t.Fatalf("a development token at a system that trusts the provider: %v", codes)
	}
}

func getJSON(t testing.TB, u string, out any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// rotatingStorage is the example storage with key rotation: it signs with
// its newest key and publishes the keys it was told to.
type rotatingStorage struct {
	*storage.Storage
	mu        sync.Mutex
	signing   *rotKey
	published []*rotKey
}

type rotKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rotKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rotKey) Key() any                                    { return k.key }
func (k *rotKey) ID() string                                  { return k.id }

type rotPublic struct{ k *rotKey }

func (p rotPublic) ID() string                         { return p.k.id }
func (p rotPublic) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p rotPublic) Use() string                        { return "sig" }
func (p rotPublic) Key() any                           { return &p.k.key.PublicKey }

// rotate makes a new signing key, published (beside the earlier ones) or not.
func (s *rotatingStorage) rotate(t testing.TB, publish bool) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = &rotKey{id: rand.Text()[:12], key: key}
	if publish {
		s.published = append(s.published, s.signing)
	}
}

func (s *rotatingStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *rotatingStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *rotatingStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, len(s.published))
	for i, k := range s.published {
		out[i] = rotPublic{k}
	}
	return out, nil
}

// kidOf is the key id in a JWT's header.
func kidOf(t testing.TB, tok string) string {
	t.Helper()
	b, err := base64URLDecode(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	_ = json.Unmarshal(b, &h)
	return h.Kid
}
