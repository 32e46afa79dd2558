package main

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/contract"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
)

func TestMain(m *testing.M) {
	kafkatest.Main(m, func() {
		if stopSharedStack != nil {
			stopSharedStack()
		}
	})
}

// stack is the whole system started in-process for an end-to-end test: every
// subgraph on its own port, the router in front, real PostgreSQL databases,
// the broker (a separate process) and a JWKS for test tokens.
type stack struct {
	cfg      config.Config
	key      *auth.DevKey
	client   *gqlclient.Client
	contract map[string]contract.Operation
}

var (
	sharedStack     *stack
	sharedStackErr  error
	sharedStackOnce sync.Once
	stopSharedStack func()
)

// startStack starts (once per test binary) the system all end-to-end tests
// share; each test makes its own practitioners and patients.
func startStack(t testing.TB) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts the whole system")
	}
	sharedStackOnce.Do(func() { sharedStack, sharedStackErr = newStack(t) })
	if sharedStackErr != nil {
		t.Fatal(sharedStackErr)
	}
	return sharedStack
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newStack(t testing.TB) (*stack, error) {
	s, stop, err := newStackWith(t, nil)
	for try := 1; try < 3 && err != nil && strings.Contains(err.Error(), "address already in use"); try++ {
		// A port picked free was taken before the system bound it (by another
		// test, or a connection's ephemeral port under `make bench`): the
		// harness's race, not the system's. Start again on new ports.
		if stop != nil {
			stop()
		}
		s, stop, err = newStackWith(t, nil)
	}
	stopSharedStack = stop
	return s, err
}

// newStackWith starts a whole system, its configuration changed by tweak (when given), and
// returns it with the function that stops it and drops its databases.
func newStackWith(t testing.TB, tweak func(*config.Config)) (*stack, func(), error) {
	cfg, dsns := freshStackConfig(t)

	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		return nil, nil, err
	}
	jwks := httptest.NewServer(key.JWKSHandler())
	cfg.JWKSURL = jwks.URL + auth.JWKSPath
	if tweak != nil {
		tweak(&cfg) // may name another identity provider
	}
	if err := setStackEnv(); err != nil {
		return nil, nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	// Schemas first, as `careslot migrate` does before a rollout: serving only checks them.
	cat, err := countries.Load(cfg.CountriesFile)
	if err == nil {
		err = migrateStores(ctx, cfg, cat, nil)
	}
	if err != nil {
		cancel()
		return nil, func() { jwks.Close(); dropDatabases(dsns) }, err
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- platform.RunStack(ctx, cfg, filepath.Join("..", "..", "router-config", "config.json"), false, func(*platform.Platform) { close(ready) })
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		jwks.Close()
		dropDatabases(dsns)
		testenv.DeleteRedisPrefix(cfg.RedisPrefix)
	}
	select {
	case <-ready:
	case err := <-done:
		return nil, stop, err
	case <-time.After(90 * time.Second):
		return nil, stop, context.DeadlineExceeded
	}
	s := &stack{cfg: cfg, key: key, client: gqlclient.New("http://" + cfg.RouterAddr + "/graphql")}
	if dir := contract.Dir(filepath.Join("..", "..")); dir != "" {
		if s.contract, err = contract.Load(dir); err != nil {
			return nil, stop, err
		}
	}
	return s, stop, nil
}

// freshStackConfig is the configuration of a new system: databases, topics,
// Redis keys and ports of its own. It returns the databases' URLs (dropped by
// dropDatabases).
func freshStackConfig(t testing.TB) (config.Config, []string) {
	cfg := config.FromEnv()
	cfg.ShutdownDrain = 0 // no load balancer in front
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	suffix := testenv.Suffix()
	var dsns []string
	for _, s := range config.Services {
		cfg.DatabaseURLs[s] = config.WithDatabase(testenv.ServerURL(), "e2e_"+s+"_"+suffix)
		dsns = append(dsns, cfg.DatabaseURLs[s])
		cfg.SubgraphAddrs[s] = freeAddr(t)
		cfg.InternalURLs[s] = "http://" + cfg.SubgraphAddrs[s]
		cfg.MetricsAddrs[s] = ""
	}
	cfg.RouterAddr = freeAddr(t)
	cfg.RouterMetricsAddr = freeAddr(t)
	cfg.KafkaBrokers = kafkatest.Brokers(t)
	cfg.KafkaTopicPrefix = "e2e" + suffix + "."
	cfg.RedisURL = testenv.RedisURL()
	cfg.RedisPrefix = "e2e" + suffix + ":"
	return cfg, dsns
}

func dropDatabases(dsns []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dsn := range dsns {
		_ = postgres.DropDatabase(ctx, dsn)
	}
}

// setStackEnv sets what the systems of the end-to-end tests read from the environment.
func setStackEnv() error {
	// The end-to-end tests are many clients behind one address: the edge's budgets run, far
	// above what they spend (their refusals are tested in internal/router), and connections are
	// not counted per address.
	for k, v := range map[string]string{
		"ROUTER_RATE_LIMIT_ANONYMOUS_RATE": "1000000", "ROUTER_RATE_LIMIT_ANONYMOUS_BURST": "1000000",
		"ROUTER_RATE_LIMIT_AUTHENTICATED_RATE": "1000000", "ROUTER_RATE_LIMIT_AUTHENTICATED_BURST": "1000000",
		"ROUTER_RATE_LIMIT_MUTATIONS_RATE": "1000000", "ROUTER_RATE_LIMIT_MUTATIONS_BURST": "1000000",
		"ROUTER_RATE_LIMIT_REFUSALS_RATE": "1000000", "ROUTER_RATE_LIMIT_REFUSALS_BURST": "1000000",
		"ROUTER_WS_MAX_CONNECTIONS_PER_IP": "0", "ROUTER_WS_MAX_CONNECTIONS_PER_SUBJECT": "0",
		// Every test patient registers from this one address.
		"COUNTRY_LIMITS": "registrationsPerAddressPerHour=1000000",
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// token mints a token the running system accepts.
func (s *stack) token(t testing.TB, role auth.Role, sub string, practitioners ...string) string {
	t.Helper()
	tok, err := s.key.Mint(auth.TokenClaims{Subject: sub, Role: role, Practitioners: practitioners,
		Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// op returns a contract operation by name.
func (s *stack) op(t testing.TB, name string) string {
	t.Helper()
	if s.contract == nil {
		t.Fatal("no contract/ directory in the repository and CARESLOT_CONTRACT_DIR is unset")
	}
	return contract.MustGet(s.contract, name)
}

// run executes a query through the router and fails the test on any error.
func (s *stack) run(t testing.TB, token, query string, vars map[string]any, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.Run(ctx, token, query, vars, out); err != nil {
		t.Fatalf("%s: %v", firstLine(query), err)
	}
}

// errorCodes executes a query expected to fail and returns its error codes.
func (s *stack) errorCodes(t testing.TB, token, query string, vars map[string]any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.client.Do(ctx, token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return res.Codes()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}
