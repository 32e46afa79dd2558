package main

import (
	"context"
	"crypto/rand"
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
	"testing"
	"time"

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
	store := storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		clientID: storage.NativeClient(clientID, redirect),
	})
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
