package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/careslot/careslot/internal/apperr"
)

// Verifier turns a raw bearer token into a Principal. Errors are
// *apperr.Error with code UNAUTHENTICATED.
type Verifier interface {
	Verify(ctx context.Context, rawToken string) (Principal, error)
}

// The development tokens' claims (DevKey.Mint): the registered ones, the
// Careslot role and the practices a secretary or practitioner acts for, and
// the standard OIDC contact claims when given.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role          string   `json:"role"`
	Practitioners []string `json:"practitioners,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Phone         string   `json:"phone_number,omitempty"`
	PhoneVerified *bool    `json:"phone_number_verified,omitempty"`
}

// JWKSVerifier verifies tokens against a remote JWKS (refreshed by keyfunc).
type JWKSVerifier struct {
	ctx    context.Context
	url    string
	parser *jwt.Parser

	// kf holds the keyfunc.Keyfunc once the JWKS has been fetched; until then
	// Verify retries the fetch at most once per retryEvery, so a service that
	// starts before its JWKS server recovers by itself.
	kf         atomic.Value
	mu         sync.Mutex
	lastTry    time.Time
	retryEvery time.Duration

	// claims says where roles and memberships are (ClaimsFromEnv at first).
	claims Claims

	// verified remembers recently verified tokens for at most a minute (and
	// never past their expiry): a client sends the same token with every
	// request, and an RSA verification costs more than a small query.
	cacheMu  sync.Mutex
	verified map[string]cachedPrincipal
}

type cachedPrincipal struct {
	p     Principal
	until time.Time
}

const (
	verifiedCacheSize = 10_000
	verifiedCacheTTL  = time.Minute
)

// NewJWKSVerifier returns a verifier for tokens from issuer for audience,
// signed by a key of the JWKS at jwksURL. An unreachable JWKS is not an error:
// it is fetched again lazily. ctx ends the background refresh.
func NewJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string) (*JWKSVerifier, error) {
	if jwksURL == "" || issuer == "" || audience == "" {
		return nil, errors.New("auth: JWKS URL, issuer and audience are required")
	}
	v := &JWKSVerifier{
		ctx: ctx,
		url: jwksURL,
		parser: jwt.NewParser(
			// Asymmetric algorithms only: never "none" or HMAC with a public key.
			jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second), // clock skew between issuer and us
		),
		retryEvery: time.Second,
	}
	var err error
	if v.claims, err = ClaimsFromEnv(); err != nil {
		return nil, err
	}
	_, _ = v.keyfunc() // warm up; a failure is logged and retried on use
	return v, nil
}

// keyfunc returns the JWKS-backed keyfunc, fetching the JWKS first if that has
// not succeeded yet.
func (v *JWKSVerifier) keyfunc() (keyfunc.Keyfunc, error) {
	if kf, ok := v.kf.Load().(keyfunc.Keyfunc); ok {
		return kf, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if kf, ok := v.kf.Load().(keyfunc.Keyfunc); ok {
		return kf, nil
	}
	if time.Since(v.lastTry) < v.retryEvery {
		return nil, errors.New("JWKS not available yet")
	}
	v.lastTry = time.Now()
	// Each attempt gets its own context: keyfunc starts a refresh goroutine
	// even when the first fetch fails, and a failed attempt must not leak it.
	attemptCtx, cancel := context.WithCancel(v.ctx)
	noErrorOnFirstFetch := false // we want the error, to retry
	kf, err := keyfunc.NewDefaultOverrideCtx(attemptCtx, []string{v.url}, keyfunc.Override{
		NoErrorReturnFirstHTTPReq: &noErrorOnFirstFetch,
		HTTPTimeout:               5 * time.Second,
	})
	if err != nil {
		cancel()
		// Logged once per attempt, not per request.
		slog.WarnContext(v.ctx, "JWKS not reachable yet; will retry", "url", v.url, "error", err)
		return nil, err
	}
	context.AfterFunc(v.ctx, cancel) // the kept keyfunc refreshes for as long as v.ctx lives
	v.kf.Store(kf)
	return kf, nil
}

// Verify checks the signature, exp, iat, iss, aud, a non-empty sub and a known role.
func (v *JWKSVerifier) Verify(ctx context.Context, rawToken string) (Principal, error) {
	now := time.Now()
	v.cacheMu.Lock()
	if c, ok := v.verified[rawToken]; ok && now.Before(c.until) {
		v.cacheMu.Unlock()
		return c.p, nil
	}
	v.cacheMu.Unlock()
	kf, err := v.keyfunc()
	if err != nil {
		return Principal{}, apperr.E(apperr.Unauthenticated, "signing keys unavailable")
	}
	c := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(rawToken, c, kf.KeyfuncCtx(ctx)); err != nil {
		return Principal{}, apperr.E(apperr.Unauthenticated, "%s", tokenErrorMessage(err))
	}
	p, err := v.claims.principal(c)
	if err != nil {
		return Principal{}, err
	}
	until := now.Add(verifiedCacheTTL)
	if exp, err := c.GetExpirationTime(); err == nil && exp != nil && exp.Before(until) {
		until = exp.Time
	}
	v.cacheMu.Lock()
	if v.verified == nil || len(v.verified) >= verifiedCacheSize {
		v.verified = make(map[string]cachedPrincipal, 256) // crude but bounded: start over
	}
	v.verified[rawToken] = cachedPrincipal{p: p, until: until}
	v.cacheMu.Unlock()
	return p, nil
}

// SetClaims says where this verifier reads roles and memberships.
func (v *JWKSVerifier) SetClaims(c Claims) { v.claims = c }

// tokenErrorMessage gives a client a useful reason without echoing the token.
func tokenErrorMessage(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience is not accepted"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token is malformed"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Sprintf("token is missing a required claim: %v", err)
	}
	return "token is invalid"
}
