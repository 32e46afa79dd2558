package kafka

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is an embedded Kafka cluster (franz-go's kfake) of one or more
// nodes in one process, used by `careslot dev`, `careslot broker` and tests
// (in a separate process, see kafkatest). Its nodes share one log: topics
// report the replication factor they were created with, but a record is
// stored once, so stopping the process is the outage it can simulate.
type Broker struct {
	c     *kfake.Cluster
	addrs []string
}

// StartBroker starts a single-node embedded broker; see StartCluster.
func StartBroker(ctx context.Context, addr, dataDir string) (*Broker, error) {
	return StartCluster(ctx, []string{addr}, dataDir)
}

// StartCluster starts an embedded broker with one node per address
// (host:port; an empty host means 127.0.0.1, port 0 a free port) and seeds
// the four Careslot topics (unprefixed) with DefaultPartitions partitions.
// With three nodes or more, topics default to min.insync.replicas 2. With a
// non-empty dataDir the broker persists its log, offsets and groups there and
// resumes from them on the next start (on the same addresses); with an empty
// one it keeps everything in memory. ctx only bounds the start; stop the
// broker with Close.
func StartCluster(ctx context.Context, addrs []string, dataDir string) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("kafka: a broker needs at least one address")
	}
	hosts := map[int]string{} // requested port → host (port 0: in order)
	var ports []int
	var anyHosts []string
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("kafka: broker address %q: %w", a, err)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("kafka: broker address %q: %w", a, err)
		}
		ports = append(ports, p)
		if p == 0 {
			anyHosts = append(anyHosts, host)
		} else {
			hosts[p] = host
		}
	}
	listen := func(network, address string) (net.Listener, error) {
		_, port, _ := net.SplitHostPort(address)
		p, _ := strconv.Atoi(port)
		host, ok := hosts[p]
		if !ok {
			host = "127.0.0.1"
			if len(anyHosts) > 0 {
				host, anyHosts = anyHosts[0], anyHosts[1:]
			}
		}
		return net.Listen(network, net.JoinHostPort(host, port))
	}
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		kfake.ListenFn(listen),
		kfake.DefaultNumPartitions(DefaultPartitions),
		kfake.SeedTopics(DefaultPartitions, allTopics()...),
		// Let test consumers use short sessions.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if len(addrs) >= 3 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"min.insync.replicas": "2"}))
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start embedded broker on %v: %w", addrs, err)
	}
	return &Broker{c: c, addrs: c.ListenAddrs()}, nil
}

// Addrs returns the nodes' addresses, to be used as the seed brokers.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Close stops the broker, saving its state first when it has a data
// directory. It is safe to call more than once.
func (b *Broker) Close() { b.c.Close() }
