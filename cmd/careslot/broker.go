package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/kafka"
)

func init() {
	register("broker", "run the embedded Kafka broker (franz-go kfake) on its own", cmdBroker)
}

func cmdBroker(ctx context.Context, args []string) error {
	cfg := config.FromEnv()
	fs := flag.NewFlagSet("broker", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address")
	dataDir := fs.String("data", filepath.Join(cfg.DataDir, "kafka"), "log directory (empty: in memory)")
	_ = fs.Parse(args)
	b, err := kafka.StartBroker(ctx, *addr, *dataDir)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Printf("kafka broker listening on %v\n", b.Addrs())
	<-ctx.Done()
	return nil
}
