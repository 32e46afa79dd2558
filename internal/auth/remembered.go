package auth

import (
	"sync"
	"time"
)

// A client sends the same token with every request, and an RSA verification costs more than a
// small query: a verifier remembers what a token it verified gave, for at most VerifiedTokenTTL
// and never past the token's exp. The subgraphs' JWKSVerifier and the router's edge
// (internal/router) remember their tokens this way (ADR 0034).
const (
	VerifiedTokenTTL  = time.Minute
	VerifiedTokensMax = 10_000
)

// Remembered holds what verified tokens gave, by token, at most Max of them (VerifiedTokensMax
// when 0): when full it starts over, crude but bounded. Refusals are not for it: a token that
// failed is verified again, so a key that arrives late (a rotation) is found. The zero value is
// ready.
type Remembered[T any] struct {
	Max int

	mu     sync.Mutex
	tokens map[string]remembered[T]
}

type remembered[T any] struct {
	v     T
	until time.Time
}

// Get returns what token gave, if it was verified and its time is not over at now.
func (r *Remembered[T]) Get(token string, now time.Time) (T, bool) {
	r.mu.Lock()
	e, ok := r.tokens[token]
	r.mu.Unlock()
	if !ok || !now.Before(e.until) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// Put remembers v for token from now until VerifiedTokenTTL later, or until exp when that is
// sooner (a zero exp: none).
func (r *Remembered[T]) Put(token string, v T, now, exp time.Time) {
	until := now.Add(VerifiedTokenTTL)
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	max := r.Max
	if max <= 0 {
		max = VerifiedTokensMax
	}
	r.mu.Lock()
	if r.tokens == nil || len(r.tokens) >= max {
		r.tokens = make(map[string]remembered[T], 256)
	}
	r.tokens[token] = remembered[T]{v: v, until: until}
	r.mu.Unlock()
}

// Len is how many tokens are remembered (expired ones included until they are replaced).
func (r *Remembered[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tokens)
}
