package kafka

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/careslot/careslot/internal/events"
)

// Broker is an embedded single-node Kafka broker (franz-go's kfake), used by
// `careslot dev` and by tests (in a separate process, see kafkatest).
type Broker struct {
	c     *kfake.Cluster
	addrs []string
}

// StartBroker starts an embedded broker listening on addr (host:port; an
// empty host means 127.0.0.1, port 0 a free port) and seeds the four Careslot
// topics (unprefixed) with DefaultPartitions partitions. With a non-empty
// dataDir the broker persists its log, offsets and groups there and resumes
// from them on the next start; with an empty one it keeps everything in
// memory. ctx only bounds the start; stop the broker with Close.
func StartBroker(ctx context.Context, addr, dataDir string) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka: broker address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	addr = net.JoinHostPort(host, port)
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.DefaultNumPartitions(DefaultPartitions),
		kfake.SeedTopics(DefaultPartitions, events.AllTopics...),
		// Let test consumers use short sessions.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start embedded broker on %s: %w", addr, err)
	}
	return &Broker{c: c, addrs: c.ListenAddrs()}, nil
}

// Addrs returns the broker's address, to be used as the seed brokers.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Close stops the broker, saving its state first when it has a data
// directory. It is safe to call more than once.
func (b *Broker) Close() { b.c.Close() }
