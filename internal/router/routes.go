package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wundergraph/cosmo/router/pkg/execution_config"

	"github.com/careslot/careslot/internal/router/edge"
)

// DefaultRoutes are the plain HTTP paths the router passes through to a subgraph's own
// listener, beside /graphql, so that clients use one origin: path prefix → subgraph. The
// practitioners' calendar feeds (GET /calendar/<token>.ics) are booking's.
var DefaultRoutes = map[string]string{"/calendar/": "booking"}

// routes builds the pass-through handlers of opts: each prefix to its subgraph's URL (from
// SubgraphURLs, else the execution configuration's routing URL, without its /graphql), behind
// the edge's controls for plain routes. A route whose subgraph the configuration does not have
// is left out.
func routes(opts Options, e *edge.Edge, logger *slog.Logger) (map[string]http.Handler, error) {
	table := opts.Routes
	if table == nil {
		table = DefaultRoutes
	}
	if len(table) == 0 {
		return nil, nil
	}
	known, err := subgraphRoutingURLs(opts.ExecutionConfigPath)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // the subgraphs are reached directly, as by the router itself
	transport.MaxIdleConnsPerHost = 32
	transport.ResponseHeaderTimeout = 30 * time.Second
	out := map[string]http.Handler{}
	for prefix, subgraph := range table {
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
			return nil, fmt.Errorf("router: route %q: a path prefix starts and ends with /", prefix)
		}
		base, ok := opts.SubgraphURLs[subgraph]
		if !ok {
			if base, ok = known[subgraph]; !ok {
				logger.Debug("router: route left out: no such subgraph", "prefix", prefix, "subgraph", subgraph)
				continue
			}
		}
		target, err := url.Parse(strings.TrimSuffix(base, "/graphql"))
		if err != nil {
			return nil, fmt.Errorf("router: route %q: subgraph %q URL: %w", prefix, subgraph, err)
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				// The route is not the graph: the caller's credentials stay at the edge.
				pr.Out.Header.Del("Authorization")
				pr.Out.Header.Del("Cookie")
			},
			Transport: transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// The request's URL may be a secret (a feed's token): log the cause without it.
				var uerr *url.Error
				if errors.As(err, &uerr) {
					err = uerr.Err
				}
				logger.Warn("router: route upstream failed", "route", prefix, "subgraph", subgraph, "error", err)
				http.Error(w, "bad gateway", http.StatusBadGateway)
			},
		}
		out[prefix] = e.Plain(proxy)
	}
	return out, nil
}

// withRoutes serves the pass-through routes by path prefix and everything else with graph.
func withRoutes(graph http.Handler, routes map[string]http.Handler) http.Handler {
	if len(routes) == 0 {
		return graph
	}
	prefixes := make([]string, 0, len(routes))
	for p := range routes {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) }) // longest first
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range prefixes {
			if strings.HasPrefix(r.URL.Path, p) {
				routes[p].ServeHTTP(w, r)
				return
			}
		}
		graph.ServeHTTP(w, r)
	})
}

// subgraphRoutingURLs reads each subgraph's routing URL from the execution configuration.
func subgraphRoutingURLs(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("router: execution configuration: %w", err)
	}
	rc, err := execution_config.UnmarshalConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("router: execution configuration %s: %w", path, err)
	}
	urls := make(map[string]string, len(rc.GetSubgraphs()))
	for _, sg := range rc.GetSubgraphs() {
		urls[sg.GetName()] = sg.GetRoutingUrl()
	}
	return urls, nil
}
