// Package kafkatest runs Kafka brokers for tests. The broker always runs in a
// separate process — the test binary itself, re-executed in broker mode — so
// that tests exercise real network failures and restarts.
//
// A package using it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { kafkatest.Main(m) }
//
// Tests then call Brokers for the package's shared broker (or the brokers in
// KAFKA_BROKERS), TopicPrefix for topic names of their own, and StartBroker
// for a broker of their own they can stop and restart.
package kafkatest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/kafka"
)

// Environment variables of broker mode.
const (
	// EnvBroker, when set, turns the test binary into a broker listening on
	// its value (host:port, or several comma-separated for a broker of
	// several nodes) until it is signalled or its parent exits.
	EnvBroker = "CARESLOT_KAFKATEST_BROKER"
	// EnvDataDir is the broker's data directory (empty: in memory).
	EnvDataDir = "CARESLOT_KAFKATEST_DATADIR"
)

const readyLine = "KAFKATEST-BROKER-READY"

var (
	mainCalled atomic.Bool

	mu     sync.Mutex
	procs  = map[*BrokerProcess]struct{}{}
	shared *BrokerProcess
)

// Main runs the package's tests (m.Run) and then stops every broker process
// they started, or, in a process started in broker mode (EnvBroker set),
// serves as a broker instead. after runs once the tests are done, before the
// brokers stop (e.g. to stop a system the tests shared). It does not return.
func Main(m *testing.M, after ...func()) {
	if addr := os.Getenv(EnvBroker); addr != "" {
		os.Exit(serveBroker(addr, os.Getenv(EnvDataDir)))
	}
	mainCalled.Store(true)
	code := m.Run()
	for _, f := range after {
		f()
	}
	mu.Lock()
	all := make([]*BrokerProcess, 0, len(procs))
	for p := range procs {
		all = append(all, p)
	}
	mu.Unlock()
	for _, p := range all {
		_ = p.stop()
	}
	os.Exit(code)
}

// serveBroker is broker mode: it runs until SIGTERM/SIGINT or until its
// stdin, a pipe from the parent, reaches EOF because the parent is gone.
func serveBroker(addrs, dataDir string) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	b, err := kafka.StartCluster(context.Background(), strings.Split(addrs, ","), dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkatest broker:", err)
		return 1
	}
	fmt.Printf("%s %s\n", readyLine, strings.Join(b.Addrs(), ","))
	orphaned := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(orphaned)
	}()
	select {
	case <-sig:
	case <-orphaned:
	}
	b.Close()
	return 0
}

// Brokers returns the seed brokers tests should use: KAFKA_BROKERS when set
// (comma-separated), otherwise the address of a broker process shared by the
// whole test binary, started on first use and stopped by Main.
func Brokers(tb testing.TB) []string {
	tb.Helper()
	if env := os.Getenv("KAFKA_BROKERS"); strings.TrimSpace(env) != "" {
		var out []string
		for _, b := range strings.Split(env, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
		return out
	}
	requireMain(tb)
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		p, err := newProcess("", 1)
		if err != nil {
			tb.Fatalf("kafkatest: %v", err)
		}
		if err := p.start(); err != nil {
			tb.Fatalf("kafkatest: start shared broker: %v", err)
		}
		procs[p] = struct{}{}
		shared = p
	}
	return shared.Addrs()
}

// BrokerProcess is a broker in a child process with fixed addresses and
// data directory, so it can be stopped and started again as the same broker.
type BrokerProcess struct {
	tb      testing.TB
	addrs   []string
	dataDir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{}
}

// StartBroker starts a broker process of the test's own that persists to
// dataDir (a fresh temporary directory when empty). It is stopped when the
// test ends. Its Start and Stop methods must be called from the test
// goroutine.
func StartBroker(tb testing.TB, dataDir string) *BrokerProcess {
	tb.Helper()
	return StartCluster(tb, 1, dataDir)
}

// StartCluster is StartBroker with a broker of the given number of nodes
// (in one process, see kafka.StartCluster).
func StartCluster(tb testing.TB, nodes int, dataDir string) *BrokerProcess {
	tb.Helper()
	requireMain(tb)
	if dataDir == "" {
		dataDir = tb.TempDir()
	}
	p, err := newProcess(dataDir, nodes)
	if err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	p.tb = tb
	mu.Lock()
	procs[p] = struct{}{}
	mu.Unlock()
	tb.Cleanup(func() {
		if err := p.stop(); err != nil {
			tb.Errorf("kafkatest: stop broker: %v", err)
		}
		mu.Lock()
		delete(procs, p)
		mu.Unlock()
	})
	if err := p.start(); err != nil {
		tb.Fatalf("kafkatest: start broker: %v", err)
	}
	return p
}

// Addrs returns the broker's node addresses as seed brokers.
func (p *BrokerProcess) Addrs() []string { return append([]string(nil), p.addrs...) }

// Addr returns the address of the broker's first node.
func (p *BrokerProcess) Addr() string { return p.addrs[0] }

// DataDir returns the broker's data directory ("" for in memory).
func (p *BrokerProcess) DataDir() string { return p.dataDir }

// Stop stops the broker gracefully (its state is saved to the data
// directory) and waits for the process to exit. Stopping a stopped broker
// does nothing.
func (p *BrokerProcess) Stop() {
	p.tb.Helper()
	if err := p.stop(); err != nil {
		p.tb.Fatalf("kafkatest: stop broker: %v", err)
	}
}

// Start starts a stopped broker again on the same address with the same
// data directory. Starting a running broker does nothing.
func (p *BrokerProcess) Start() {
	p.tb.Helper()
	if err := p.start(); err != nil {
		p.tb.Fatalf("kafkatest: start broker: %v", err)
	}
}

// TopicPrefix returns a topic prefix unique to this test run, such as
// "kt-TestRelayOrder-3f9a1c.", for use with kafka.Topic and kafka.EnsureTopics.
func TopicPrefix(tb testing.TB) string {
	return "kt-" + sanitize(tb.Name(), 40) + "-" + randomHex(4) + "."
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

func sanitize(s string, max int) string {
	s = unsafeTopicChars.ReplaceAllString(s, "_")
	if len(s) > max {
		s = s[:max]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requireMain(tb testing.TB) {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatal("kafkatest: the package's TestMain must call kafkatest.Main(m)")
	}
}

func newProcess(dataDir string, nodes int) (*BrokerProcess, error) {
	p := &BrokerProcess{dataDir: dataDir}
	for range max(nodes, 1) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		p.addrs = append(p.addrs, ln.Addr().String())
		if err := ln.Close(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *BrokerProcess) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	var lastErr error
	// The port may be briefly unavailable right after a stop.
	for attempt := 0; attempt < 20; attempt++ {
		if lastErr = p.spawn(exe); lastErr == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return lastErr
}

// spawn starts the child and waits for its ready line. p.mu is held.
func (p *BrokerProcess) spawn(exe string) error {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), EnvBroker+"="+strings.Join(p.addrs, ","), EnvDataDir+"="+p.dataDir)
	cmd.Stderr = os.Stderr
	setParentDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}

	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		// The parent-death signal is tied to the thread that forked the
		// child, so fork from a locked thread that lives as long as the
		// child does.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start broker process: %w", err)
	}

	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), readyLine) {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- errors.New("broker process exited before it was ready")
	}()
	select {
	case err = <-ready:
	case <-time.After(15 * time.Second):
		err = errors.New("broker process not ready after 15s")
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		<-exited
		return fmt.Errorf("broker on %v: %w", p.addrs, err)
	}
	p.cmd, p.stdin, p.exited = cmd, stdin, exited
	return nil
}

func (p *BrokerProcess) stop() error {
	p.mu.Lock()
	cmd, stdin, exited := p.cmd, p.stdin, p.exited
	p.cmd, p.stdin, p.exited = nil, nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		_ = stdin.Close()
		return fmt.Errorf("broker on %v did not stop within 10s; killed", p.addrs)
	}
	_ = stdin.Close()
	return nil
}
