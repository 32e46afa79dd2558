package main

import (
	"context"
	"flag"
	"fmt"
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
	sub := fs.String("sub", "", "subject: the patient or practitioner id (for a secretary or admin, their own id)")
	practitioners := fs.String("practitioners", "", "secretary only: comma-separated practitioner ids they act for")
	ttl := fs.Duration("ttl", 12*time.Hour, "validity")
	_ = fs.Parse(args)
	if *sub == "" {
		return fmt.Errorf("--sub is required")
	}
	cfg := config.FromEnv()
	key, err := auth.LoadOrCreateDevKey(devKeyPath(cfg))
	if err != nil {
		return err
	}
	claims := auth.TokenClaims{Subject: *sub, Role: auth.Role(*role), Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience}
	if *practitioners != "" {
		claims.Practitioners = strings.Split(*practitioners, ",")
	}
	tok, err := key.Mint(claims, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
