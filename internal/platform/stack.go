package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/router/edge"
)

// RunStack runs every enabled subgraph and the router in this process until
// ctx ends; ready runs (in its own goroutine) once the router is ready and
// every service's /readyz answers 200 (ADR 0016).
func RunStack(ctx context.Context, cfg config.Config, execConfig string, devMode bool, ready func(*Platform)) error {
	g, gctx := errgroup.WithContext(ctx)
	p, err := Start(gctx, cfg, "careslot")
	if err != nil {
		return err
	}
	defer p.Close()
	// A service already running may fail while the next is built (its
	// listener's port taken, say): the build then fails on the cancelled
	// context, and the error worth reporting is the group's.
	failed := func(name string, err error) error {
		if gctx.Err() != nil {
			if werr := g.Wait(); werr != nil {
				return werr
			}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, name := range Services() {
		s, err := Build(gctx, p, name)
		if err != nil {
			return failed(name, err)
		}
		if err := p.Run(gctx, g, s); err != nil {
			return failed(name, err)
		}
	}
	routerReady := make(chan struct{})
	opts, err := RouterOptions(p, execConfig, devMode)
	if err != nil {
		return err
	}
	opts.Ready = func() { close(routerReady) }
	g.Go(func() error { return router.Run(gctx, opts) })
	g.Go(func() error {
		select {
		case <-routerReady:
		case <-gctx.Done():
			return nil
		}
		if err := waitServicesReady(gctx, cfg, p.Logger); err != nil {
			return nil // stopping
		}
		if ready != nil {
			ready(p)
		}
		return nil
	})
	return g.Wait()
}

// waitServicesReady polls every enabled service's /readyz, where the router
// reaches it, until all answer 200 or ctx ends; while it waits it logs, now
// and then, which are not ready and why.
func waitServicesReady(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	client := httpclient.New(2 * time.Second)
	notReady := func() map[string]string {
		out := map[string]string{}
		for _, name := range Services() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.InternalURLs[name]+"/readyz", nil)
			if err != nil {
				out[name] = err.Error()
				continue
			}
			resp, err := client.Do(req)
			if err != nil {
				out[name] = err.Error()
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				out[name] = strings.TrimSpace(string(body))
			}
		}
		return out
	}
	lastLog := time.Now()
	for {
		waiting := notReady()
		if len(waiting) == 0 {
			return nil
		}
		if time.Since(lastLog) > 5*time.Second {
			logger.Info("waiting for services to be ready", "not_ready", waiting)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ServiceName is OTEL_SERVICE_NAME, or def.
func ServiceName(def string) string {
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		return v
	}
	return def
}

// RouterOptions configures the router for the platform's services, reached
// at their internal URLs, with the edge's limits from the environment.
func RouterOptions(p *Platform, execConfig string, dev bool) (router.Options, error) {
	// The router reaches each subgraph where other services do (in a cluster, its Service).
	urls := map[string]string{}
	for _, name := range Services() {
		urls[name] = p.Config.InternalURLs[name] + "/graphql"
	}
	// The edge's limits: router-config/edge.yaml, ROUTER_* variables over it.
	limits, err := edge.SettingsFromEnv()
	if err != nil {
		return router.Options{}, err
	}
	rdb, err := p.Redis()
	if err != nil {
		return router.Options{}, err
	}
	return router.Options{
		ListenAddr:          p.Config.RouterAddr,
		ExecutionConfigPath: execConfig,
		JWKSURL:             p.Config.JWKSURL,
		JWTIssuer:           p.Config.OIDCIssuer,
		JWTAudience:         p.Config.OIDCAudience,
		SubgraphURLs:        urls,
		Logger:              p.Logger.With("component", "router"),
		DevMode:             dev,
		MetricsListenAddr:   p.Config.RouterMetricsAddr,
		TracingEndpoint:     p.Config.OTLPEndpoint,
		ServiceName:         os.Getenv("OTEL_SERVICE_NAME"),
		Edge:                &limits,
		Redis:               rdb,
		RedisPrefix:         p.Config.RedisPrefix,
	}, nil
}
