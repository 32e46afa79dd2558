// Package config reads Careslot's configuration from the environment. Every
// setting has a development default so `careslot dev` runs with none set.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Services lists the six subgraphs in their canonical order; ports 4001–4006
// follow this order.
var Services = []string{"practitioner", "patient", "search", "availability", "booking", "notification"}

// Config is the whole process configuration.
type Config struct {
	// DatabaseURLs holds one PostgreSQL URL per service store
	// (env DATABASE_URL_<SERVICE>, default a database careslot_<service> on
	// DATABASE_URL's server).
	DatabaseURLs map[string]string
	RedisURL     string
	// RedisClusterAddrs, when set, are the seed nodes of a Redis Cluster
	// (env REDIS_CLUSTER_ADDRS, comma-separated); RedisURL then gives only
	// credentials and TLS.
	RedisClusterAddrs []string
	RedisPrefix       string // key prefix, so tests and tenants can share one Redis
	// KafkaBrokers is empty for the embedded broker.
	KafkaBrokers     []string
	KafkaTopicPrefix string
	OpenSearchURL    string

	RouterAddr string
	// RouterMetricsAddr serves the router's own Prometheus /metrics (env ROUTER_METRICS_ADDR;
	// empty: off).
	RouterMetricsAddr string
	// OTLPEndpoint is the OpenTelemetry collector's OTLP/HTTP base URL
	// (env OTEL_EXPORTER_OTLP_ENDPOINT); empty: no traces are exported.
	OTLPEndpoint  string
	SubgraphAddrs map[string]string // listen address per service
	MetricsAddrs  map[string]string // Prometheus listen address per service
	// InternalURLs is how one service reaches another's internal endpoints
	// (e.g. the GDPR export): env <SERVICE>_INTERNAL_URL, default its listen address.
	InternalURLs map[string]string
	// NotificationEmailFrom and NotificationSMSSenderID configure the AWS senders.
	NotificationEmailFrom   string
	NotificationSMSSenderID string
	JWKSURL                 string
	OIDCIssuer              string
	OIDCAudience            string
	DataDir                 string // local state for `dev`: broker log, dev signing key
	CountriesFile           string
	AWSRegion               string
	// ShutdownTimeout is how long a stopping process may take after its
	// drain (env SHUTDOWN_TIMEOUT) before it ends itself, logging what held
	// it: preStop sleep + drain + this stays under Kubernetes'
	// terminationGracePeriodSeconds (5 + 5 + 15 < 30 by default).
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long a stopping service keeps serving with a
	// failing /readyz before it stops listening (env SHUTDOWN_DRAIN), so
	// its load balancer (Kubernetes endpoints) has taken it out first.
	ShutdownDrain time.Duration
}

// FromEnv reads the configuration.
func FromEnv() Config {
	base := env("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable")
	c := Config{
		DatabaseURLs:            map[string]string{},
		RedisURL:                env("REDIS_URL", "redis://127.0.0.1:6379/0"),
		RedisClusterAddrs:       List(os.Getenv("REDIS_CLUSTER_ADDRS")),
		RedisPrefix:             env("REDIS_PREFIX", ""),
		KafkaBrokers:            List(os.Getenv("KAFKA_BROKERS")),
		KafkaTopicPrefix:        env("KAFKA_TOPIC_PREFIX", ""),
		OpenSearchURL:           os.Getenv("OPENSEARCH_URL"),
		RouterAddr:              env("ROUTER_ADDR", "127.0.0.1:4000"),
		RouterMetricsAddr:       os.Getenv("ROUTER_METRICS_ADDR"),
		OTLPEndpoint:            os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		SubgraphAddrs:           map[string]string{},
		MetricsAddrs:            map[string]string{},
		InternalURLs:            map[string]string{},
		NotificationEmailFrom:   os.Getenv("NOTIFICATION_EMAIL_FROM"),
		NotificationSMSSenderID: os.Getenv("NOTIFICATION_SMS_SENDER_ID"),
		JWKSURL:                 env("OIDC_JWKS_URL", "http://127.0.0.1:4010/.well-known/jwks.json"),
		OIDCIssuer:              env("OIDC_ISSUER", "careslot-dev"),
		OIDCAudience:            env("OIDC_AUDIENCE", "careslot"),
		DataDir:                 env("CARESLOT_DATA_DIR", ".data"),
		CountriesFile:           os.Getenv("COUNTRIES_FILE"),
		AWSRegion:               os.Getenv("AWS_REGION"),
		ShutdownTimeout:         duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		ShutdownDrain:           duration("SHUTDOWN_DRAIN", 5*time.Second),
	}
	for i, s := range Services {
		up := strings.ToUpper(s)
		c.DatabaseURLs[s] = env("DATABASE_URL_"+up, WithDatabase(base, "careslot_"+s))
		c.SubgraphAddrs[s] = env(up+"_ADDR", fmt.Sprintf("127.0.0.1:%d", 4001+i))
		c.MetricsAddrs[s] = env(up+"_METRICS_ADDR", fmt.Sprintf("127.0.0.1:%d", 9101+i))
		c.InternalURLs[s] = env(up+"_INTERNAL_URL", "http://"+c.SubgraphAddrs[s])
	}
	return c
}

// WithDatabase returns a PostgreSQL URL with its database name replaced.
func WithDatabase(url, db string) string {
	rest := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, rest = url[:i], url[i:]
	}
	if i := strings.LastIndexByte(url, '/'); i > len("postgres://") {
		url = url[:i]
	}
	return url + "/" + db + rest
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// List splits a comma-separated setting, dropping blanks.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func duration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return def
}
