// Command careslot runs Careslot: every subgraph, the federation router, and
// the operational tasks. It only wires packages together.
//
//	careslot dev                          everything in one process, with demo data
//	careslot serve <service>              one subgraph (practitioner, patient, …)
//	careslot router                       the federation router
//	careslot migrate [-roles] [service…]  the only DDL: databases, migrations, partitions, roles
//	careslot token --role R --sub ID      print a development token
//	careslot broker                       a standalone embedded Kafka broker
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: careslot <command> [flags]\n\ncommands:")
	for _, name := range []string{"dev", "serve", "router", "migrate", "token", "broker"} {
		if c, ok := commands[name]; ok {
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, c.summary)
		}
	}
	for name, c := range commands {
		switch name {
		case "dev", "serve", "router", "migrate", "token", "broker":
		default:
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, c.summary)
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := profiled(os.Getenv("CPU_PROFILE"), func() error { return cmd.run(ctx, os.Args[2:]) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "careslot %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// profiled runs fn, writing a CPU profile of it to path when path is set: the
// one-shot commands (seed, rebuild) have no /debug/pprof to ask.
func profiled(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}
