package edge

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/goccy/go-yaml"

	routerconfig "github.com/careslot/careslot/router-config"
)

// Settings are the edge controls: router-config/edge.yaml, overridable per environment by
// ROUTER_* variables (named in that file).
type Settings struct {
	// TrustedProxies are the CIDRs (or single addresses) whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies" env:"TRUSTED_PROXIES" envSeparator:","`
	// MaxExpandedFields bounds an operation's fields once its fragments are spread.
	MaxExpandedFields int             `yaml:"max_expanded_fields" env:"MAX_EXPANDED_FIELDS"`
	RateLimits        RateLimits      `yaml:"rate_limits" envPrefix:"RATE_LIMIT_"`
	WebSocket         WebSocketLimits `yaml:"websocket" envPrefix:"WS_"`
}

// RateLimits are the per-caller budgets.
type RateLimits struct {
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// Anonymous: queries without a token and WebSocket connections opened, per client address.
	Anonymous Budget `yaml:"anonymous" envPrefix:"ANONYMOUS_"`
	// Authenticated: queries with a token, per subject.
	Authenticated Budget `yaml:"authenticated" envPrefix:"AUTHENTICATED_"`
	// Mutations: every mutation, per subject or per client address.
	Mutations Budget `yaml:"mutations" envPrefix:"MUTATIONS_"`
	// Refusals: requests refused before execution, per client address.
	Refusals Budget `yaml:"refusals" envPrefix:"REFUSALS_"`
}

// Budget allows Rate requests per Period, Burst at once (GCRA). Rate 0 means unlimited.
type Budget struct {
	Rate   int           `yaml:"rate" env:"RATE"`
	Burst  int           `yaml:"burst" env:"BURST"`
	Period time.Duration `yaml:"period" env:"PERIOD"`
}

// Unlimited reports whether the budget never refuses.
func (b Budget) Unlimited() bool { return b.Rate <= 0 }

// WebSocketLimits bound what one client may hold open. 0 means no limit.
type WebSocketLimits struct {
	MaxSubscriptionsPerConnection int           `yaml:"max_subscriptions_per_connection" env:"MAX_SUBSCRIPTIONS_PER_CONNECTION"`
	MaxConnectionsPerSubject      int           `yaml:"max_connections_per_subject" env:"MAX_CONNECTIONS_PER_SUBJECT"`
	MaxConnectionsPerIP           int           `yaml:"max_connections_per_ip" env:"MAX_CONNECTIONS_PER_IP"`
	MaxMessageBytes               int           `yaml:"max_message_bytes" env:"MAX_MESSAGE_BYTES"`
	PingInterval                  time.Duration `yaml:"ping_interval" env:"PING_INTERVAL"`
	IdleTimeout                   time.Duration `yaml:"idle_timeout" env:"IDLE_TIMEOUT"`
	InitTimeout                   time.Duration `yaml:"init_timeout" env:"INIT_TIMEOUT"`
	ConnectionLease               time.Duration `yaml:"connection_lease" env:"CONNECTION_LEASE"`
}

// EnvPrefix starts every variable that overrides a setting.
const EnvPrefix = "ROUTER_"

// DefaultSettings returns router-config/edge.yaml as committed.
func DefaultSettings() (Settings, error) { return LoadSettings(routerconfig.EdgeYAML, nil) }

// SettingsFromEnv returns router-config/edge.yaml with the process's ROUTER_* variables applied.
func SettingsFromEnv() (Settings, error) {
	environ := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			environ[k] = v
		}
	}
	return LoadSettings(routerconfig.EdgeYAML, environ)
}

// LoadSettings parses an edge.yaml document, then applies the ROUTER_* variables of environ (nil:
// none), and validates the result.
func LoadSettings(raw []byte, environ map[string]string) (s Settings, err error) {
	// The YAML decoder panics on some malformed documents (see internal/countries).
	defer func() {
		if p := recover(); p != nil {
			s, err = Settings{}, fmt.Errorf("edge settings: unreadable YAML: %v", p)
		}
	}()
	if err := yaml.NewDecoder(bytes.NewReader(raw), yaml.Strict()).Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("edge settings: %w", err)
	}
	if environ == nil {
		environ = map[string]string{}
	}
	// Variables that are unset leave the file's values alone.
	if err := env.ParseWithOptions(&s, env.Options{Environment: environ, Prefix: EnvPrefix}); err != nil {
		return Settings{}, fmt.Errorf("edge settings: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks that every budget and limit makes sense.
func (s Settings) Validate() error {
	var errs []error
	if _, err := ParseProxies(s.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	for name, b := range map[string]Budget{
		"anonymous": s.RateLimits.Anonymous, "authenticated": s.RateLimits.Authenticated,
		"mutations": s.RateLimits.Mutations, "refusals": s.RateLimits.Refusals,
	} {
		switch {
		case b.Rate < 0 || b.Burst < 0:
			errs = append(errs, fmt.Errorf("edge settings: rate_limits.%s: rate and burst must not be negative", name))
		case b.Unlimited():
		case b.Burst < 1:
			errs = append(errs, fmt.Errorf("edge settings: rate_limits.%s: burst must be at least 1", name))
		case b.Period <= 0:
			errs = append(errs, fmt.Errorf("edge settings: rate_limits.%s: period must be positive", name))
		}
	}
	if s.MaxExpandedFields < 0 {
		errs = append(errs, errors.New("edge settings: max_expanded_fields must not be negative"))
	}
	w := s.WebSocket
	if w.MaxSubscriptionsPerConnection < 0 || w.MaxConnectionsPerSubject < 0 || w.MaxConnectionsPerIP < 0 || w.MaxMessageBytes < 0 {
		errs = append(errs, errors.New("edge settings: websocket limits must not be negative"))
	}
	if w.PingInterval < 0 || w.IdleTimeout < 0 || (w.IdleTimeout > 0 && w.PingInterval >= w.IdleTimeout) {
		errs = append(errs, errors.New("edge settings: websocket.ping_interval must be shorter than idle_timeout"))
	}
	if (w.MaxConnectionsPerSubject > 0 || w.MaxConnectionsPerIP > 0) && w.ConnectionLease < 3*time.Second {
		errs = append(errs, errors.New("edge settings: websocket.connection_lease must be at least 3s"))
	}
	return errors.Join(errs...)
}
