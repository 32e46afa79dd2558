package router

import (
	"errors"
	"testing"
	"time"

	"github.com/wundergraph/cosmo/router/pkg/authentication"

	"github.com/careslot/careslot/internal/auth"
)

// countingDecoder accepts the tokens it holds, with their claims, and counts its calls.
type countingDecoder struct {
	claims map[string]authentication.Claims
	calls  int
}

func (d *countingDecoder) Decode(token string) (authentication.Claims, error) {
	d.calls++
	c, ok := d.claims[token]
	if !ok {
		return nil, errors.New("token is invalid")
	}
	out := authentication.Claims{}
	for k, v := range c {
		out[k] = v
	}
	return out, nil
}

func TestCachedDecoderVerifiesATokenOnceUntilItExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	next := &countingDecoder{claims: map[string]authentication.Claims{
		"long":  {"sub": "ana", "exp": float64(now.Add(time.Hour).Unix())},
		"short": {"sub": "ben", "exp": float64(now.Add(10 * time.Second).Unix())},
	}}
	d := newCachedDecoder(next)
	d.now = func() time.Time { return now }

	for range 3 {
		c, err := d.Decode("long")
		if err != nil || c["sub"] != "ana" {
			t.Fatalf("Decode(long) = %v, %v", c, err)
		}
	}
	if next.calls != 1 {
		t.Fatalf("a token sent three times was verified %d times, want once", next.calls)
	}

	// Each request gets its own map: the router writes scopes into it.
	a, _ := d.Decode("long")
	a["scope"] = "admin"
	if b, _ := d.Decode("long"); b["scope"] != nil {
		t.Fatalf("a claim written by one request reached the next: %v", b)
	}

	// Remembered for at most the TTL…
	d.now = func() time.Time { return now.Add(auth.VerifiedTokenTTL + time.Second) }
	calls := next.calls
	if _, err := d.Decode("long"); err != nil || next.calls != calls+1 {
		t.Fatalf("after the TTL: err %v, verifications %d, want one more than %d", err, next.calls, calls)
	}

	// …and never past the token's own expiry: the next request asks the decoder again, which
	// refuses an expired token (here: no longer holds it).
	d.now = func() time.Time { return now }
	if _, err := d.Decode("short"); err != nil {
		t.Fatal(err)
	}
	delete(next.claims, "short")
	d.now = func() time.Time { return now.Add(11 * time.Second) }
	if _, err := d.Decode("short"); err == nil {
		t.Fatal("an expired token was still accepted from the cache")
	}
}

func TestCachedDecoderDoesNotRememberRefusals(t *testing.T) {
	next := &countingDecoder{claims: map[string]authentication.Claims{}}
	d := newCachedDecoder(next)
	if _, err := d.Decode("rotated"); err == nil {
		t.Fatal("an unknown token was accepted")
	}
	// The key arrives (a rotation): the same token is verified again and accepted.
	next.claims["rotated"] = authentication.Claims{"sub": "ana", "exp": float64(time.Now().Add(time.Hour).Unix())}
	if _, err := d.Decode("rotated"); err != nil {
		t.Fatalf("a refusal was remembered: %v", err)
	}
	if next.calls != 2 {
		t.Fatalf("verifications = %d, want 2", next.calls)
	}
}

func TestCachedDecoderStaysBounded(t *testing.T) {
	exp := float64(time.Now().Add(time.Hour).Unix())
	next := &countingDecoder{claims: map[string]authentication.Claims{}}
	d := newCachedDecoder(next)
	d.tokens.Max = 4
	for i := range 10 {
		tok := string(rune('a' + i))
		next.claims[tok] = authentication.Claims{"sub": tok, "exp": exp}
		if _, err := d.Decode(tok); err != nil {
			t.Fatal(err)
		}
		if d.tokens.Len() > d.tokens.Max {
			t.Fatalf("%d tokens remembered, at most %d", d.tokens.Len(), d.tokens.Max)
		}
	}
}
