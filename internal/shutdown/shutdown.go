// Package shutdown bounds how long a process takes to stop once asked to.
//
// Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds, then
// SIGKILLs: a process still stopping by then dies without a word about what
// held it. Bound makes the process end itself a little earlier, logging what
// every goroutine was blocked on, so an operator (or a test) sees the cause.
package shutdown

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// Bound watches ctx, the process's signal context. Once it ends, the
// process has limit to return from main; past that, the goroutines are
// logged and the process exits with status 1. Call the returned func when
// the process has stopped cleanly: it cancels the bound and logs how long
// the stop took.
func Bound(ctx context.Context, limit time.Duration, logger *slog.Logger) (stopped func()) {
	return bound(ctx, limit, logger, os.Exit)
}

func bound(ctx context.Context, limit time.Duration, logger *slog.Logger, exit func(int)) func() {
	var (
		mu    sync.Mutex
		began time.Time
		timer *time.Timer
		done  bool
	)
	stopWatching := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		began = time.Now()
		timer = time.AfterFunc(limit, func() {
			var stacks bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			logger.Error("shutdown did not finish in time; exiting", "limit", limit, "goroutines", stacks.String())
			exit(1)
		})
	})
	return func() {
		stopWatching()
		mu.Lock()
		defer mu.Unlock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			if began.IsZero() {
				began = time.Now() // the signal came as main was returning
			}
			logger.Info("stopped", "after_signal", time.Since(began).Round(time.Millisecond))
		}
	}
}
