package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CheckURL accepts an absolute URL with one of the schemes.
func CheckURL(raw string, schemes ...string) error {
	if raw == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("%q: want an absolute %s URL", raw, strings.Join(schemes, " or "))
}

// WebSocketURL is an http(s) URL with the ws(s) scheme: where a subgraph
// takes subscriptions.
func WebSocketURL(httpURL string) string {
	scheme, rest, ok := strings.Cut(httpURL, "://")
	if !ok {
		return httpURL
	}
	switch strings.ToLower(scheme) { // schemes are case-insensitive (CheckURL accepts HTTP://)
	case "http":
		return "ws://" + rest
	case "https":
		return "wss://" + rest
	}
	return httpURL
}
