package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a real Redis Cluster of local redis-server processes —
// three masters with one replica each — on free ports in a directory of its
// own, for tests of what must work on a cluster: hash-tagged keys, scripts,
// pipelines, SCANs over every master, pub/sub and failover.
type RedisCluster struct {
	dir   string
	out   io.Writer
	Nodes []*RedisNode
	// NodeTimeout is the cluster-node-timeout: how long a silent master
	// takes to be failed over.
	NodeTimeout time.Duration
}

// RedisNode is one redis-server of a RedisCluster.
type RedisNode struct {
	Port int
	dir  string
	mu   sync.Mutex
	proc *Proc
}

// Addr is the node's host:port.
func (n *RedisNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// Running reports whether the node's process is up.
func (n *RedisNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && n.proc.Running()
}

// NewRedisCluster starts a cluster for the test and ends its processes (by
// pid) when the test ends. It needs redis-server and redis-cli
// (`make services` installs them).
func NewRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartRedisCluster(ctx, tb.TempDir(), nil)
	if err != nil {
		tb.Fatalf("redis cluster: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// StartRedisCluster starts three masters and three replicas under dir
// (their logs to out, nil: discarded), joins them with
// `redis-cli --cluster create` and waits until every slot is served and
// every replica is in sync. Close ends the processes.
func StartRedisCluster(ctx context.Context, dir string, out io.Writer) (*RedisCluster, error) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found: run `make services` (it installs Redis from Debian's packages)", bin)
		}
	}
	if out == nil {
		out = io.Discard
	}
	c := &RedisCluster{dir: dir, out: out, NodeTimeout: 1500 * time.Millisecond}
	ports, err := clusterPorts(6)
	if err != nil {
		return nil, err
	}
	for _, p := range ports {
		n := &RedisNode{Port: p, dir: filepath.Join(dir, strconv.Itoa(p))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	for _, n := range c.Nodes {
		if err := c.start(ctx, n); err != nil {
			return nil, err
		}
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, buf.String())
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// clusterPorts picks n free ports whose cluster-bus ports (+10000) are free too.
func clusterPorts(n int) ([]int, error) {
	var out []int
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		p := 20000 + rand.IntN(30000)
		if portFree(p) && portFree(p+10000) {
			out = append(out, p)
		}
	}
	if len(out) < n {
		return nil, errors.New("no free ports for a redis cluster")
	}
	return out, nil
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

func (c *RedisCluster) start(ctx context.Context, n *RedisNode) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.proc.Running() {
		return nil
	}
	args := []string{
		"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--dir", n.dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(c.NodeTimeout.Milliseconds(), 10),
		// Any replica may take over, however long its master has been gone.
		"--cluster-replica-validity-factor", "0",
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
	}
	p, err := StartProc("redis-"+strconv.Itoa(n.Port), c.out, nil, "redis-server", args...)
	if err != nil {
		return err
	}
	n.proc = p
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
	defer rdb.Close()
	for {
		if rdb.Ping(ctx).Err() == nil {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("redis-server on %d exited: %v", n.Port, p.Err())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %d: %w", n.Port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addrs are the seed addresses of every node.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Client returns a cluster client over the cluster (close it when done).
func (c *RedisCluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
}

// Node returns the node listening on addr (nil if none).
func (c *RedisCluster) Node(addr string) *RedisNode {
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// Masters returns the running nodes that are masters now, as the cluster
// itself sees them.
func (c *RedisCluster) Masters(ctx context.Context) ([]*RedisNode, error) {
	var out []*RedisNode
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		role, err := nodeInfo(ctx, n, "replication", "role")
		if err != nil {
			return nil, err
		}
		if role == "master" {
			out = append(out, n)
		}
	}
	return out, nil
}

// MasterOf returns the master node serving key now.
func (c *RedisCluster) MasterOf(ctx context.Context, key string) (*RedisNode, error) {
	rdb := c.Client()
	defer rdb.Close()
	var addr string
	slot, err := rdb.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			addr = s.Nodes[0].Addr
		}
	}
	if n := c.Node(addr); n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("no master for slot %d (%q)", slot, addr)
}

// Kill ends a node at once (SIGKILL), as a crash would.
func (c *RedisCluster) Kill(n *RedisNode) {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Restart starts a stopped node again on its port with its cluster
// configuration: it rejoins the cluster (as a replica when it was failed over).
func (c *RedisCluster) Restart(ctx context.Context, n *RedisNode) error {
	return c.start(ctx, n)
}

// WaitHealthy waits until every running node sees the cluster as ok, with
// every slot served, and every running replica is in sync with its master.
func (c *RedisCluster) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		if last = c.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster not healthy: %v (%w)", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *RedisCluster) healthy(ctx context.Context) error {
	masters := 0
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		state, err := nodeInfoCmd(ctx, n, "cluster_state")
		if err != nil {
			return err
		}
		if state != "ok" {
			return fmt.Errorf("%s: cluster_state %s", n.Addr(), state)
		}
		if assigned, _ := nodeInfoCmd(ctx, n, "cluster_slots_ok"); assigned != "16384" {
			return fmt.Errorf("%s: %s slots ok", n.Addr(), assigned)
		}
		role, err := nodeInfo(ctx, n, "replication", "role")
		if err != nil {
			return err
		}
		switch role {
		case "master":
			masters++
		case "slave":
			if link, _ := nodeInfo(ctx, n, "replication", "master_link_status"); link != "up" {
				return fmt.Errorf("%s: replica link %s", n.Addr(), link)
			}
		}
	}
	if masters != 3 {
		return fmt.Errorf("%d masters", masters)
	}
	return nil
}

// nodeInfo reads one field of an INFO section of a node.
func nodeInfo(ctx context.Context, n *RedisNode, section, field string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	return infoField(s, field), nil
}

// nodeInfoCmd reads one field of a node's CLUSTER INFO.
func nodeInfoCmd(ctx context.Context, n *RedisNode, field string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return "", err
	}
	return infoField(s, field), nil
}

func infoField(s, field string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// Close ends every node (SIGKILL, by pid) and waits for them.
func (c *RedisCluster) Close() {
	for _, n := range c.Nodes {
		c.Kill(n)
	}
}

// NewRedisServer starts a redis-server of the test's own on a free port (no
// persistence) and returns a client of it; the process ends, by its pid,
// when the test ends. For tests whose cost grows with every key the server
// holds (SCANs): the shared server carries every other test's keys.
func NewRedisServer(tb testing.TB) *redis.Client {
	tb.Helper()
	ports, err := clusterPorts(1)
	if err != nil {
		tb.Fatal(err)
	}
	n := &RedisNode{Port: ports[0], dir: tb.TempDir()}
	args := []string{"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--dir", n.dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}
	p, err := StartProc("redis-"+strconv.Itoa(n.Port), nil, nil, "redis-server", args...)
	if err != nil {
		tb.Fatalf("redis-server: %v", err)
	}
	tb.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for rdb.Ping(ctx).Err() != nil {
		if !p.Running() {
			tb.Fatalf("redis-server on %d exited: %v", n.Port, p.Err())
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redis-server on %d: %v", n.Port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return rdb
}
