package system

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
)

// Replicas is how many processes of each service the system runs.
var Replicas = map[string]int{
	"practitioner": 1, "patient": 1, "search": 2, "availability": 2, "booking": 2, "notification": 1,
}

// poolSize bounds each replica's PostgreSQL pool: the machine's 100
// connections are shared by everyone's tests.
var poolSize = map[string]int{"booking": 4, "practitioner": 2, "patient": 2, "notification": 2, "search": 2}

// System is Careslot running as separate processes; see the package doc.
type System struct {
	t      testing.TB
	Root   string // the repository
	Dir    string // everything the run writes: binary, logs, data
	Bin    string // the careslot binary, built once
	Suffix string

	Redis       *testenv.RedisCluster
	RedisPrefix string
	Brokers     []string
	TopicPrefix string
	broker      *testenv.Proc
	DSN         map[string]string // service → its database, as the superuser (migrations, checks)
	// roleDSN is how each PostgreSQL service connects: as its own role, with
	// rights on its own database only (`careslot migrate -roles`).
	roleDSN map[string]string

	Key  *auth.DevKey
	jwks *httptest.Server

	Proxies map[string]*Proxy

	mu       sync.Mutex
	replicas map[string][]*Replica
	serial   map[string]int
	procs    []*testenv.Proc // every process started, for the final cleanup

	RouterAddr string
	router     *testenv.Proc
	Client     *gqlclient.Client
}

// Replica is one process of a service.
type Replica struct {
	Service, Name string
	Addr          string // its /graphql, /readyz
	MetricsAddr   string
	Proc          *testenv.Proc
}

// Start builds the binary and starts everything, returning once every
// replica is ready and the router serves. Everything is stopped, by pid, and
// the databases dropped when the test ends.
func Start(t testing.TB) *System {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	s := &System{
		t: t, Root: root, Dir: t.TempDir(), Suffix: testenv.Suffix(),
		DSN: map[string]string{}, Proxies: map[string]*Proxy{},
		replicas: map[string][]*Replica{}, serial: map[string]int{},
	}
	s.Bin = filepath.Join(s.Dir, "careslot")
	s.RedisPrefix = "sys" + s.Suffix + ":"
	s.TopicPrefix = "sys" + s.Suffix + "."
	for _, d := range []string{"logs", "data"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The build and the Redis Cluster at once: one is CPU, the other waits.
	t0 := time.Now()
	var wg sync.WaitGroup
	var buildErr, redisErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", s.Bin, "./cmd/careslot")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	}()
	go func() {
		defer wg.Done()
		logs, err := os.Create(filepath.Join(s.Dir, "logs", "redis.log"))
		if err != nil {
			redisErr = err
			return
		}
		s.Redis, redisErr = testenv.StartRedisCluster(ctx, filepath.Join(s.Dir, "redis"), logs)
	}()
	wg.Wait()
	if s.Redis != nil {
		t.Cleanup(s.Redis.Close)
	}
	if err := errors.Join(buildErr, redisErr); err != nil {
		t.Fatal(err)
	}
	usedPorts.Lock()
	for _, n := range s.Redis.Nodes {
		usedPorts.m[n.Port], usedPorts.m[n.Port+10000] = true, true
	}
	usedPorts.Unlock()
	t.Logf("built careslot and started the Redis Cluster in %s", time.Since(t0).Round(time.Millisecond))

	start := time.Now()
	// The OIDC provider: the development key's JWKS.
	s.Key, err = auth.LoadOrCreateDevKey(filepath.Join(s.Dir, "data", "dev-jwt-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s.jwks = httptest.NewServer(s.Key.JWKSHandler())
	t.Cleanup(s.jwks.Close)
	for _, svc := range config.Services {
		s.DSN[svc] = withParam(config.WithDatabase(testenv.ServerURL(), "sys_"+svc+"_"+s.Suffix), "pool_max_conns", fmt.Sprint(max(poolSize[svc], 2)))
	}
	for range 3 {
		s.Brokers = append(s.Brokers, freeAddr())
	}
	s.StartBroker(t)

	// Schemas first, as a migration Job before a rollout, with a role per
	// service: serve only checks the schema, as its own role.
	s.roleDSN = map[string]string{}
	for _, svc := range stores {
		u, err := url.Parse(s.DSN[svc])
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(s.roleName(svc), s.Suffix)
		s.roleDSN[svc] = u.String()
	}
	if out, err := s.Command(ctx, "admin", "migrate", "-roles").CombinedOutput(); err != nil {
		t.Fatalf("careslot migrate -roles: %v\n%s", err, out)
	}
	for _, svc := range config.Services {
		p, err := NewProxy(svc)
		if err != nil {
			t.Fatal(err)
		}
		s.Proxies[svc] = p
	}
	var all []*Replica
	for _, svc := range config.Services {
		for range Replicas[svc] {
			all = append(all, s.StartReplica(t, svc))
		}
	}
	s.startRouter(t)
	for _, r := range all {
		s.WaitReady(t, ctx, r)
	}
	s.waitRouter(t, ctx)
	s.Client = gqlclient.New("http://" + s.RouterAddr + "/graphql")
	s.Client.HTTP.Transport = gqlclient.NewTransport(128)
	Figure(t, "start to all-ready (broker, migrations, %d service processes, router): %s",
		len(all), time.Since(start).Round(time.Millisecond))
	return s
}

var usedPorts = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// freeAddr picks a free loopback port for a process to listen on, below the
// ephemeral range (32768–60999 on Linux) so that no client connection can
// take it between now and the listen, and never the same one twice.
func freeAddr() string {
	usedPorts.Lock()
	defer usedPorts.Unlock()
	for {
		p := 20000 + rand.IntN(12000)
		if usedPorts.m[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		usedPorts.m[p] = true
		return ln.Addr().String()
	}
}

func withParam(dsn, k, v string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + k + "=" + v
}

// Figure logs one of the figures the issue asks for, greppable as FIGURE.
func Figure(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE "+format, args...)
}

// stores are the services with a PostgreSQL database.
var stores = []string{"practitioner", "patient", "booking", "notification"}

// Env is the environment every process of the system shares: no database
// credentials (see dbEnv).
func (s *System) Env() []string {
	env := []string{
		"REDIS_CLUSTER_ADDRS=" + strings.Join(s.Redis.Addrs(), ","),
		"REDIS_PREFIX=" + s.RedisPrefix,
		"KAFKA_BROKERS=" + strings.Join(s.Brokers, ","),
		"KAFKA_TOPIC_PREFIX=" + s.TopicPrefix,
		"OIDC_JWKS_URL=" + s.jwks.URL + auth.JWKSPath,
		"CARESLOT_DATA_DIR=" + filepath.Join(s.Dir, "data"),
		// Longer than the proxies take to see readiness fail, so they
		// have stopped sending requests before the server stops listening.
		"SHUTDOWN_DRAIN=" + drain.String(),
		// A stop that outlives Terminate's grace ends itself first, logging
		// its goroutines, so a failure names what held it.
		"SHUTDOWN_TIMEOUT=" + (terminateGrace - drain - 2*time.Second).String(),
		"LOG_LEVEL=info",
	}
	for _, svc := range config.Services {
		if p := s.Proxies[svc]; p != nil {
			env = append(env, strings.ToUpper(svc)+"_INTERNAL_URL=http://"+p.Addr())
		}
	}
	return env
}

// dbEnv is the database access a process of svc gets: its own database as
// its own role, and nothing for a service without one (search and
// availability warm and rebuild from the owners' HTTP exports).
func (s *System) dbEnv(svc string) []string {
	// Any other database the process might derive from DATABASE_URL is out of reach.
	env := []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?sslmode=disable"}
	for _, x := range config.Services {
		env = append(env, "DATABASE_URL_"+strings.ToUpper(x)+"=")
	}
	if dsn, ok := s.roleDSN[svc]; ok {
		env = append(env, "DATABASE_URL_"+strings.ToUpper(svc)+"="+dsn)
	}
	return env
}

// adminEnv is what `migrate` gets: every database as the superuser (no
// pool settings: it opens single connections too), and the services' roles
// to make.
func (s *System) adminEnv() []string {
	env := []string{"DATABASE_URL=" + testenv.ServerURL()}
	for _, x := range config.Services {
		env = append(env, "DATABASE_URL_"+strings.ToUpper(x)+"="+plainDSN(s.DSN[x]))
	}
	for _, x := range stores {
		env = append(env, "DATABASE_ROLE_"+strings.ToUpper(x)+"="+s.roleName(x), "DATABASE_PASSWORD_"+strings.ToUpper(x)+"="+s.Suffix)
	}
	return env
}

func (s *System) roleName(svc string) string { return "sys" + s.Suffix + "_" + svc }

// Command is a careslot subcommand run with the system's environment and
// the database access of service as (see dbEnv; "admin": adminEnv).
func (s *System) Command(ctx context.Context, as string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Root
	db := s.dbEnv(as)
	if as == "admin" {
		db = s.adminEnv()
	}
	cmd.Env = append(append(os.Environ(), s.Env()...), db...)
	return cmd
}

// spawn starts a long-running careslot process logging to logs/<name>.log.
func (s *System) spawn(name string, env []string, args ...string) (*testenv.Proc, error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "logs", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	// Every client of the test registers from one address: lift that domain limit (its race is
	// tested in subgraphs/patient).
	env = append(env, "COUNTRY_LIMITS=registrationsPerAddressPerHour=1000000")
	p, err := testenv.StartProc(name, f, append(s.Env(), env...), s.Bin, args...)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	go func() { <-p.Exited(); _ = f.Close() }()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// StartBroker starts the broker process (three nodes, fixed addresses, a
// data directory) and waits until every node accepts connections.
func (s *System) StartBroker(t testing.TB) {
	t.Helper()
	var err error
	s.broker, err = s.spawn("broker", s.dbEnv("broker"), "broker", "--nodes", "3", "--addr", strings.Join(s.Brokers, ","),
		"--data", filepath.Join(s.Dir, "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range s.Brokers {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				_ = c.Close()
				break
			}
			if !s.broker.Running() || time.Now().After(deadline) {
				t.Fatalf("broker not listening on %s: %v\n%s", a, err, s.LogTail("broker", 20))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// StopBroker stops the broker process gracefully (its log is saved).
func (s *System) StopBroker(t testing.TB) {
	t.Helper()
	if err := s.broker.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// StartReplica starts one more process of svc on fresh ports and puts it
// behind the service's proxy (it gets traffic once ready).
func (s *System) StartReplica(t testing.TB, svc string) *Replica {
	t.Helper()
	r, err := s.startReplica(svc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *System) startReplica(svc string) (*Replica, error) {
	s.mu.Lock()
	s.serial[svc]++
	name := fmt.Sprintf("%s-%d", svc, s.serial[svc])
	s.mu.Unlock()
	up := strings.ToUpper(svc)
	r := &Replica{Service: svc, Name: name, Addr: freeAddr(), MetricsAddr: freeAddr()}
	var err error
	env := append(s.dbEnv(svc), up+"_ADDR="+r.Addr, up+"_METRICS_ADDR="+r.MetricsAddr)
	if r.Proc, err = s.spawn(name, env, "serve", svc); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.replicas[svc] = append(s.replicas[svc], r)
	s.mu.Unlock()
	s.Proxies[svc].Add(r.Addr)
	return r, nil
}

// Replicas returns the running replicas of svc.
func (s *System) Replicas(svc string) []*Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Replica
	for _, r := range s.replicas[svc] {
		if r.Proc.Running() {
			out = append(out, r)
		}
	}
	return out
}

// WaitReady waits until the replica's proxy has it in rotation.
func (s *System) WaitReady(t testing.TB, ctx context.Context, r *Replica) {
	t.Helper()
	if err := s.waitReady(ctx, r); err != nil {
		t.Fatal(err)
	}
}

func (s *System) waitReady(ctx context.Context, r *Replica) error {
	p := s.Proxies[r.Service]
	for !p.IsReady(r.Addr) {
		if !r.Proc.Running() {
			return fmt.Errorf("%s exited: %v\n%s", r.Name, r.Proc.Err(), s.LogTail(r.Name, 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v\n%s", r.Name, ctx.Err(), s.LogTail(r.Name, 30))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Kill ends a replica with SIGKILL and takes it out of its proxy.
func (s *System) Kill(r *Replica) {
	r.Proc.Kill()
	s.Proxies[r.Service].Remove(r.Addr)
}

// terminateGrace is Terminate's terminationGracePeriodSeconds; drain is
// SHUTDOWN_DRAIN, longer than the proxies take to see readiness fail.
const (
	terminateGrace = 20 * time.Second
	drain          = ReadyFailures*(ReadyPoll+ReadyTimeout) + ReadyPoll
)

// Terminate stops a replica with SIGTERM as Kubernetes does, waits for it to
// exit, and takes it out of its proxy.
func (s *System) Terminate(r *Replica) error {
	err := r.Proc.Stop(terminateGrace)
	s.Proxies[r.Service].Remove(r.Addr)
	if err == nil && r.Proc.Err() != nil {
		err = fmt.Errorf("%s exited with %v after SIGTERM\n%s", r.Name, r.Proc.Err(), s.LogTail(r.Name, 20))
	}
	return err
}

func (s *System) startRouter(t testing.TB) {
	s.RouterAddr = freeAddr()
	env := append(s.dbEnv("router"), "ROUTER_ADDR="+s.RouterAddr,
		// Every client of the test is behind one address: the edge's budgets
		// run (in the Redis Cluster), far above what the storms spend.
		"ROUTER_RATE_LIMIT_ANONYMOUS_RATE=1000000", "ROUTER_RATE_LIMIT_ANONYMOUS_BURST=1000000",
		"ROUTER_RATE_LIMIT_AUTHENTICATED_RATE=1000000", "ROUTER_RATE_LIMIT_AUTHENTICATED_BURST=1000000",
		"ROUTER_RATE_LIMIT_MUTATIONS_RATE=1000000", "ROUTER_RATE_LIMIT_MUTATIONS_BURST=1000000",
		"ROUTER_RATE_LIMIT_REFUSALS_RATE=1000000", "ROUTER_RATE_LIMIT_REFUSALS_BURST=1000000",
		"ROUTER_WS_MAX_CONNECTIONS_PER_IP=0", "ROUTER_WS_MAX_CONNECTIONS_PER_SUBJECT=0",
	)
	for _, svc := range config.Services {
		env = append(env, strings.ToUpper(svc)+"_ADDR="+s.Proxies[svc].Addr())
	}
	var err error
	if s.router, err = s.spawn("router", env, "router", "--config", filepath.Join(s.Root, "router-config", "config.json")); err != nil {
		t.Fatal(err)
	}
}

func (s *System) waitRouter(t testing.TB, ctx context.Context) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	for {
		res, err := c.Get("http://" + s.RouterAddr + "/health/ready")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if !s.router.Running() {
			t.Fatalf("router exited: %v\n%s", s.router.Err(), s.LogTail("router", 30))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("router not ready: %v\n%s", err, s.LogTail("router", 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Mint makes a token the system accepts, in the load generator's shape.
func (s *System) Mint(role, sub string) (string, error) {
	return s.Key.Mint(auth.TokenClaims{Subject: sub, Role: auth.Role(role), Issuer: "careslot-dev", Audience: "careslot"}, 2*time.Hour)
}

// LogTail returns the last n lines of a process's log.
func (s *System) LogTail(name string, n int) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "logs", name+".log"))
	if err != nil {
		return ""
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + name + " ---\n" + strings.Join(lines, "\n")
}

// LogGrep returns the first n lines of a process's log containing any of subs.
func (s *System) LogGrep(name string, n int, subs ...string) string {
	return "--- " + name + " (warnings and errors) ---\n" + strings.Join(s.logMatches(name, n, subs...), "\n")
}

// logMatches is the first n lines of a process's log containing any of subs
// (none when the log cannot be read).
func (s *System) logMatches(name string, n int, subs ...string) []string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "logs", name+".log"))
	if err != nil {
		return nil
	}
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				lines = append(lines, line)
				break
			}
		}
		if len(lines) == n {
			break
		}
	}
	return lines
}

// stop ends every process (the router first, the broker last), closes the
// proxies and drops the databases.
func (s *System) stop() {
	if s.t.Failed() {
		s.mu.Lock()
		names := []string{"router", "broker"}
		for _, rs := range s.replicas {
			for _, r := range rs {
				names = append(names, r.Name)
			}
		}
		s.mu.Unlock()
		for _, n := range names {
			s.t.Log(s.LogTail(n, 15))
			s.t.Log(s.LogGrep(n, 30, `"level":"WARN"`, `"level":"ERROR"`))
		}
	}
	if s.router != nil {
		_ = s.router.Stop(5 * time.Second)
	}
	s.mu.Lock()
	procs := append([]*testenv.Proc(nil), s.procs...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == s.broker {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Stop(5 * time.Second) }()
	}
	wg.Wait()
	if s.broker != nil {
		_ = s.broker.Stop(10 * time.Second)
	}
	for _, p := range s.Proxies {
		p.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dsn := range s.DSN {
		if err := postgres.DropDatabase(ctx, dsn); err != nil {
			s.t.Logf("drop %s: %v", dsn, err)
		}
	}
	if s.roleDSN != nil {
		if conn, err := pgx.Connect(ctx, testenv.ServerURL()); err == nil {
			for _, svc := range stores {
				if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{s.roleName(svc)}.Sanitize()); err != nil {
					s.t.Logf("drop role %s: %v", s.roleName(svc), err)
				}
			}
			_ = conn.Close(ctx)
		}
	}
}

// plainDSN is a database URL without the pool settings.
func plainDSN(dsn string) string {
	if i := strings.Index(dsn, "pool_max_conns"); i > 0 {
		return strings.TrimRight(dsn[:i], "?&")
	}
	return dsn
}
