package router

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"time"

	"github.com/wundergraph/cosmo/router/core"
	"github.com/wundergraph/cosmo/router/pkg/authentication"
	"github.com/wundergraph/cosmo/router/pkg/config"
	"go.uber.org/zap"

	"github.com/careslot/careslot/internal/auth"
)

// The router verifies a bearer token with the JWKS on every request: an RSA verification, about
// 5 % of the whole system's CPU under booking load (ADR 0034). cachedDecoder remembers the claims
// of a token it verified as the subgraphs' verifier does (auth.Remembered: at most a minute, never
// past the token's exp). Refusals are not remembered: a token that failed is verified again, so a
// key that arrives late (a rotation) is found.
type cachedDecoder struct {
	next   authentication.TokenDecoder
	now    func() time.Time
	tokens auth.Remembered[authentication.Claims]
}

func newCachedDecoder(next authentication.TokenDecoder) *cachedDecoder {
	return &cachedDecoder{next: next, now: time.Now}
}

// Decode returns a copy of the token's claims: the router writes into the map it is given
// (SetAuthenticationScopes), and two requests must never share one.
func (d *cachedDecoder) Decode(token string) (authentication.Claims, error) {
	now := d.now()
	if c, ok := d.tokens.Get(token, now); ok {
		return maps.Clone(c), nil
	}
	claims, err := d.next.Decode(token)
	if err != nil {
		return nil, err
	}
	exp, _ := expiry(claims)
	d.tokens.Put(token, maps.Clone(claims), now, exp)
	return claims, nil
}

// expiry reads the exp claim (seconds since the epoch, as the JSON decoder left it).
func expiry(c authentication.Claims) (time.Time, bool) {
	var s float64
	switch v := c["exp"].(type) {
	case float64:
		s = v
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		s = f
	default:
		return time.Time{}, false
	}
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// edgeAuthenticators builds what the router's own set-up builds from jwt (the JWKS decoder and
// the header authenticator, with the same settings and checks), with the decoder behind
// cachedDecoder. The JWKS is fetched and refreshed until ctx ends.
func edgeAuthenticators(ctx context.Context, logger *zap.Logger, jwt config.JWTAuthenticationConfiguration) ([]authentication.Authenticator, error) {
	configs := make([]authentication.JWKSConfig, 0, len(jwt.JWKS))
	for _, j := range jwt.JWKS {
		configs = append(configs, authentication.JWKSConfig{
			URL:               j.URL,
			RefreshInterval:   j.RefreshInterval,
			AllowedAlgorithms: j.Algorithms,
			Secret:            j.Secret,
			Algorithm:         j.Algorithm,
			KeyId:             j.KeyId,
			Audiences:         j.Audiences,
			RefreshUnknownKID: authentication.RefreshUnknownKIDConfig{
				Enabled:  j.RefreshUnknownKID.Enabled,
				MaxWait:  j.RefreshUnknownKID.MaxWait,
				Interval: j.RefreshUnknownKID.Interval,
				Burst:    j.RefreshUnknownKID.Burst,
			},
		})
	}
	decoder, err := authentication.NewJwksTokenDecoder(ctx, logger, configs)
	if err != nil {
		return nil, err
	}
	headers := map[string][]string{jwt.HeaderName: {jwt.HeaderValuePrefix}}
	for _, s := range jwt.HeaderSources {
		if s.Type == "header" {
			headers[s.Name] = append(headers[s.Name], s.ValuePrefixes...)
		}
	}
	a, err := authentication.NewHttpHeaderAuthenticator(authentication.HttpHeaderAuthenticatorOptions{
		Name:                 "jwks",
		HeaderSourcePrefixes: headers,
		TokenDecoder:         newCachedDecoder(decoder),
	})
	if err != nil {
		return nil, err
	}
	return []authentication.Authenticator{a}, nil
}

// useEdgeAuthenticators takes the JWT authentication out of cfg, for the router's set-up not to
// build its own, and returns the option that installs edgeAuthenticators in its place. It leaves
// cfg alone (and returns nil) when there is none, or when the WebSocket initial payload
// authenticator is on, which the router builds from the same settings.
func useEdgeAuthenticators(ctx context.Context, logger *zap.Logger, cfg *config.Config) (core.Option, error) {
	if len(cfg.Authentication.JWT.JWKS) == 0 || cfg.WebSocket.Authentication.FromInitialPayload.Enabled {
		return nil, nil
	}
	auths, err := edgeAuthenticators(ctx, logger, cfg.Authentication.JWT)
	if err != nil {
		return nil, err
	}
	cfg.Authentication.JWT.JWKS = nil
	return core.WithAccessController(core.NewAccessController(auths, cfg.Authorization.RequireAuthentication)), nil
}
