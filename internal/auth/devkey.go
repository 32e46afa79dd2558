package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWKSPath is where ServeJWKS serves the development key set.
const JWKSPath = "/.well-known/jwks.json"

// DevKey is the local RSA signing key behind `careslot dev` and `careslot
// token`. It is for development only: production tokens come from an OIDC provider.
type DevKey struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
}

// TokenClaims describes a token to mint.
type TokenClaims struct {
	Subject       string
	Role          Role
	Practitioners []string // secretary only
	Issuer        string
	Audience      string
	// Email and Phone, when set, go in the standard OIDC claims (email,
	// phone_number) with email_verified and phone_number_verified.
	Email         string
	EmailVerified bool
	Phone         string
	PhoneVerified bool
}

// LoadOrCreateDevKey reads the PEM key at path, creating it (RSA 2048, mode
// 0600, with its directory) if missing, so separate commands and runs share
// one key and earlier tokens stay valid.
func LoadOrCreateDevKey(path string) (*DevKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = createDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: dev key: %w", err) // os errors name the file
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: dev key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: dev key %s: %w", path, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || rsaKey.N.BitLen() < 2048 {
		return nil, fmt.Errorf("auth: dev key %s: want an RSA key of at least 2048 bits", path)
	}
	return newDevKey(rsaKey)
}

// createDevKey writes a new key to a temporary file and links it into place,
// so two processes starting together never read a half-written key: the
// loser of the race reads the winner's file.
func createDevKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(dir, ".devkey-*") // CreateTemp uses mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return data, nil
}

func newDevKey(key *rsa.PrivateKey) (*DevKey, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	n := b64(key.N.Bytes())
	e := b64(big.NewInt(int64(key.E)).Bytes())
	// kid = RFC 7638 thumbprint: stable for a key across restarts.
	thumb := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	kid := b64(thumb[:])
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
	}}})
	if err != nil {
		return nil, err
	}
	return &DevKey{key: key, kid: kid, jwks: jwks}, nil
}

// KeyID returns the key's kid.
func (k *DevKey) KeyID() string { return k.kid }

// JWKSHandler serves the public key as a JWK Set.
func (k *DevKey) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(k.jwks)
	})
}

// Mint signs an RS256 token for claims, valid for ttl.
func (k *DevKey) Mint(c TokenClaims, ttl time.Duration) (string, error) {
	switch {
	case c.Subject == "":
		return "", errors.New("auth: mint: subject is required")
	case !c.Role.Valid():
		return "", fmt.Errorf("auth: mint: unknown role %q", c.Role)
	case c.Issuer == "" || c.Audience == "":
		return "", errors.New("auth: mint: issuer and audience are required")
	case ttl <= 0:
		return "", errors.New("auth: mint: ttl must be positive")
	}
	now := time.Now()
	return k.sign(tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    c.Issuer,
			Audience:  jwt.ClaimStrings{c.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role:          string(c.Role),
		Practitioners: c.Practitioners,
		Email:         c.Email,
		EmailVerified: verifiedClaim(c.Email, c.EmailVerified),
		Phone:         c.Phone,
		PhoneVerified: verifiedClaim(c.Phone, c.PhoneVerified),
	})
}

// verifiedClaim is a *_verified claim for a contact claim: absent without
// the contact, else true or false.
func verifiedClaim(contact string, verified bool) *bool {
	if contact == "" {
		return nil
	}
	return &verified
}

func (k *DevKey) sign(claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.key)
}

// ServeJWKS serves key's JWK Set at JWKSPath on addr until ctx is done.
func ServeJWKS(ctx context.Context, addr string, key *DevKey) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("auth: JWKS listen: %w", err)
	}
	return ServeJWKSOn(ctx, ln, key)
}

// ServeJWKSOn is ServeJWKS on a listener the caller opened (so that the JWKS
// accepts connections before what needs it starts); it closes ln.
func ServeJWKSOn(ctx context.Context, ln net.Listener, key *DevKey) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+JWKSPath, key.JWKSHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
