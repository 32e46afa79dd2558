package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/cenkalti/backoff/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/httpclient"
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

// JWKSVerifier verifies tokens against a remote JWKS. The keys are fetched
// in the background: until the first fetch succeeded every token is refused
// at once (and Ready says why), failed fetches are retried with backoff, and
// a failed refresh keeps the keys already loaded, so an outage of the JWKS
// refuses nobody while its keys are cached. A token signed by a key the set
// does not hold (a rotation) triggers one refetch, shared by the requests
// waiting for it and rate limited, before it is refused.
type JWKSVerifier struct {
	ctx    context.Context
	url    string
	parser *jwt.Parser
	timing jwksTiming

	// keys is the last JWK Set fetched; kf reads it.
	keys       jwkset.Storage
	kf         keyfunc.Keyfunc
	loaded     chan struct{} // closed by the first successful fetch
	loadedOnce sync.Once
	lastErr    atomic.Pointer[error]

	// Unknown kids refetch the set at most once per timing.unknownKIDEvery;
	// concurrent requests share the fetch in flight.
	unknownKID *rate.Limiter
	refetch    singleflight.Group

	// claims says where roles and memberships are (ClaimsFromEnv at first).
	claims Claims

	// verified remembers the principals of recently verified tokens.
	verified Remembered[Principal]
}

// jwksTiming paces the JWKS fetches.
type jwksTiming struct {
	refreshEvery    time.Duration // between successful fetches
	firstRetry      time.Duration // after a failed fetch, doubling…
	maxRetry        time.Duration // …up to this
	unknownKIDEvery time.Duration // between refetches for unknown kids
	httpTimeout     time.Duration
}

var defaultJWKSTiming = jwksTiming{
	refreshEvery:    10 * time.Minute,
	firstRetry:      50 * time.Millisecond,
	maxRetry:        10 * time.Second,
	unknownKIDEvery: 30 * time.Second,
	httpTimeout:     5 * time.Second,
}

// errKeysNotLoaded is Ready's answer before the first fetch finished.
var errKeysNotLoaded = errors.New("signing keys not loaded yet")

// NewJWKSVerifier returns a verifier for tokens from issuer for audience,
// signed by a key of the JWKS at jwksURL. It returns at once: the JWKS is
// fetched in the background until ctx ends (Ready, Loaded).
func NewJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string) (*JWKSVerifier, error) {
	return newJWKSVerifier(ctx, jwksURL, issuer, audience, defaultJWKSTiming)
}

func newJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string, timing jwksTiming) (*JWKSVerifier, error) {
	if jwksURL == "" || issuer == "" || audience == "" {
		return nil, errors.New("auth: JWKS URL, issuer and audience are required")
	}
	if _, err := url.ParseRequestURI(jwksURL); err != nil {
		return nil, fmt.Errorf("auth: JWKS URL: %w", err)
	}
	keys := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: keys})
	if err != nil {
		return nil, err
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
		timing:     timing,
		keys:       keys,
		kf:         kf,
		loaded:     make(chan struct{}),
		unknownKID: rate.NewLimiter(rate.Every(timing.unknownKIDEvery), 1),
	}
	if v.claims, err = ClaimsFromEnv(); err != nil {
		return nil, err
	}
	go v.keepKeysFresh()
	return v, nil
}

// fetch replaces the cached keys with the JWKS's; on failure the cached keys
// stay. jwkset does the request, the decoding and the key validation: with
// no RefreshInterval, NewStorageFromHTTP fetches once into the given
// storage and starts nothing.
func (v *JWKSVerifier) fetch(ctx context.Context) error {
	_, err := jwkset.NewStorageFromHTTP(v.url, jwkset.HTTPClientStorageOptions{
		Ctx:         ctx,
		HTTPTimeout: v.timing.httpTimeout,
		Client:      httpclient.New(v.timing.httpTimeout),
		Storage:     v.keys,
	})
	if err != nil {
		v.lastErr.Store(&err)
		return err
	}
	v.lastErr.Store(nil)
	v.loadedOnce.Do(func() { close(v.loaded) })
	return nil
}

// keepKeysFresh fetches the JWKS until v.ctx ends: again after
// timing.refreshEvery when a fetch succeeded, sooner (backing off) when it
// failed.
func (v *JWKSVerifier) keepKeysFresh() {
	retry := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(v.timing.firstRetry),
		backoff.WithMaxInterval(v.timing.maxRetry),
		backoff.WithMaxElapsedTime(0), // never give up
	)
	failing := false
	for {
		wait := v.timing.refreshEvery
		if err := v.fetch(v.ctx); err != nil {
			if v.ctx.Err() != nil {
				return
			}
			wait = retry.NextBackOff()
			if !failing { // once per outage, not per attempt
				slog.WarnContext(v.ctx, "JWKS not reachable; retrying in the background",
					"url", v.url, "keys_cached", v.Ready(v.ctx) == nil, "error", err)
			}
			failing = true
		} else {
			if failing {
				slog.InfoContext(v.ctx, "JWKS reachable again", "url", v.url)
			}
			failing = false
			retry.Reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-v.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Loaded is closed once the signing keys have been fetched.
func (v *JWKSVerifier) Loaded() <-chan struct{} { return v.loaded }

// Ready returns nil once the signing keys are loaded: a service that cannot
// verify tokens cannot serve an authenticated call.
func (v *JWKSVerifier) Ready(context.Context) error {
	select {
	case <-v.loaded:
		return nil
	default:
	}
	if err := v.lastErr.Load(); err != nil {
		return fmt.Errorf("%w: %w", errKeysNotLoaded, *err)
	}
	return errKeysNotLoaded
}

// refetchForUnknownKID fetches the JWKS again for a token whose kid it does
// not hold, unless the rate limit spent that. Callers arriving while a fetch
// is in flight share it.
func (v *JWKSVerifier) refetchForUnknownKID(ctx context.Context) {
	ch := v.refetch.DoChan("jwks", func() (any, error) {
		if !v.unknownKID.Allow() {
			return nil, nil
		}
		// Not the request's context: the fetch is shared.
		return nil, v.fetch(v.ctx)
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Verify checks the signature, exp, iat, iss, aud, a non-empty sub and a known role.
func (v *JWKSVerifier) Verify(ctx context.Context, rawToken string) (Principal, error) {
	now := time.Now()
	if p, ok := v.verified.Get(rawToken, now); ok {
		return p, nil
	}
	if v.Ready(ctx) != nil {
		return Principal{}, apperr.E(apperr.Unauthenticated, "signing keys unavailable")
	}
	c := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(rawToken, c, v.kf.KeyfuncCtx(ctx))
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		// Looked up again even when this call fetched nothing: a request
		// that lost the race to the shared refetch finds the new key too.
		v.refetchForUnknownKID(ctx)
		c = jwt.MapClaims{}
		_, err = v.parser.ParseWithClaims(rawToken, c, v.kf.KeyfuncCtx(ctx))
	}
	if err != nil {
		return Principal{}, apperr.E(apperr.Unauthenticated, "%s", tokenErrorMessage(err))
	}
	p, err := v.claims.principal(c)
	if err != nil {
		return Principal{}, err
	}
	var exp time.Time
	if e, err := c.GetExpirationTime(); err == nil && e != nil {
		exp = e.Time
	}
	v.verified.Put(rawToken, p, now, exp)
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
