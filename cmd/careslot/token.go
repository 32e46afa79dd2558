package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
)

func init() {
	register("token", "print a development token: careslot token --role patient --sub <id>", cmdToken)
}

// devKeyPath is where `dev` and `token` share the development signing key.
func devKeyPath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "dev-jwt-key.pem") }

func cmdToken(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	role := fs.String("role", "patient", "patient, practitioner, secretary or admin")
	sub := fs.String("sub", "", "subject: the identity at the development provider (its account id is printed on stderr)")
	practitioners := fs.String("practitioners", "", "secretary or practitioner: comma-separated practitioner ids (practices) they act for")
	ttl := fs.Duration("ttl", 12*time.Hour, "validity")
	email := fs.String("email", "", "the identity's e-mail address (the standard OIDC email claim)")
	emailVerified := fs.Bool("email-verified", false, "the provider vouches for --email (email_verified: true): registering claims the practices' desk records of that address")
	phone := fs.String("phone", "", "the identity's phone number, E.164 (the standard OIDC phone_number claim)")
	phoneVerified := fs.Bool("phone-verified", false, "the provider vouches for --phone (phone_number_verified: true)")
	_ = fs.Parse(args)
	if *sub == "" {
		return fmt.Errorf("--sub is required")
	}
	cfg := config.FromEnv()
	key, err := auth.LoadOrCreateDevKey(devKeyPath(cfg))
	if err != nil {
		return err
	}
	claims := auth.TokenClaims{Subject: *sub, Role: auth.Role(*role), Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience,
		Email: *email, EmailVerified: *emailVerified, Phone: *phone, PhoneVerified: *phoneVerified}
	if (*emailVerified && *email == "") || (*phoneVerified && *phone == "") {
		return fmt.Errorf("--email-verified needs --email, --phone-verified needs --phone")
	}
	if *practitioners != "" {
		claims.Practitioners = strings.Split(*practitioners, ",")
	}
	tok, err := key.Mint(claims, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	// The account this identity registers (or has): what its tokens reach.
	fmt.Fprintf(os.Stderr, "account %s\n", auth.AccountID(cfg.OIDCIssuer, *sub))
	return nil
}

func init() {
	register("jwks", "serve the development key's JWKS, the OIDC provider of services run apart: careslot jwks [--addr 127.0.0.1:4010]", cmdJWKS)
}

// cmdJWKS serves the key `token` signs with where the services look for it
// (OIDC_JWKS_URL), so separately run services accept development tokens.
func cmdJWKS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("jwks", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:4010", "listen address")
	_ = fs.Parse(args)
	cfg := config.FromEnv()
	key, err := auth.LoadOrCreateDevKey(devKeyPath(cfg))
	if err != nil {
		return err
	}
	fmt.Printf("JWKS of %s at http://%s%s\n", devKeyPath(cfg), *addr, auth.JWKSPath)
	return auth.ServeJWKS(ctx, *addr, key)
}
