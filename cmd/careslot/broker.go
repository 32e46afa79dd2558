package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/kafka"
)

func init() {
	register("broker", "run the embedded Kafka broker (franz-go kfake) on its own: careslot broker [--nodes 3]", cmdBroker)
}

func cmdBroker(ctx context.Context, args []string) error {
	cfg := config.FromEnv()
	fs := flag.NewFlagSet("broker", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address of the first node, or one comma-separated address per node")
	nodes := fs.Int("nodes", 1, "broker nodes (one process; with one --addr, the nodes take consecutive ports)")
	dataDir := fs.String("data", filepath.Join(cfg.DataDir, "kafka"), "log directory (empty: in memory)")
	_ = fs.Parse(args)
	addrs, err := brokerAddrs(*addr, *nodes)
	if err != nil {
		return err
	}
	b, err := kafka.StartCluster(ctx, addrs, *dataDir)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Printf("kafka broker listening on %s\n", strings.Join(b.Addrs(), ","))
	<-ctx.Done()
	return nil
}

// brokerAddrs expands --addr and --nodes into one address per node.
func brokerAddrs(addr string, nodes int) ([]string, error) {
	addrs := strings.Split(addr, ",")
	if len(addrs) > 1 {
		if nodes > 1 && nodes != len(addrs) {
			return nil, fmt.Errorf("--nodes %d but %d addresses", nodes, len(addrs))
		}
		return addrs, nil
	}
	if nodes <= 1 {
		return addrs, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	first, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	out := make([]string, nodes)
	for i := range out {
		p := first
		if first != 0 {
			p = first + i
		}
		out[i] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return out, nil
}
