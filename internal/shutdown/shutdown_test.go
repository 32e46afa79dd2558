package shutdown

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAStuckStopEndsTheProcessAndSaysWhere(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	exited := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := bound(ctx, 50*time.Millisecond, logger, func(code int) { exited <- code })
	defer stopped()
	cancel() // SIGTERM, and nothing ever returns
	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("exit status %d, want 1", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stop that never finished did not end the process")
	}
	if !strings.Contains(logs.String(), "TestAStuckStopEndsTheProcessAndSaysWhere") {
		t.Fatalf("the log does not show the goroutines:\n%s", logs.String())
	}
}

func TestACleanStopCancelsTheBound(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	exited := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := bound(ctx, 50*time.Millisecond, logger, func(code int) { exited <- code })
	cancel()
	stopped()
	select {
	case code := <-exited:
		t.Fatalf("a clean stop exited with %d", code)
	case <-time.After(200 * time.Millisecond):
	}
	if !strings.Contains(logs.String(), "after_signal") {
		t.Fatalf("the stop's duration is not logged:\n%s", logs.String())
	}
}

func TestNoSignalNoBound(t *testing.T) {
	exited := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := bound(ctx, time.Millisecond, slog.New(slog.DiscardHandler), func(code int) { exited <- code })
	stopped() // the process returned without a signal (an error at start)
	cancel()
	select {
	case code := <-exited:
		t.Fatalf("exited with %d after a return", code)
	case <-time.After(50 * time.Millisecond):
	}
}
