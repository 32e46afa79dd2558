package router_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/careslot/careslot/internal/router/edge"
	"github.com/careslot/careslot/internal/testenv"
)

// BenchmarkEdgeBudgets measures a query through the router (to a fake subgraph) without budgets
// and with the anonymous budget spent in Redis on every request: the difference is what the edge's
// rate limiting costs. Run: go test ./internal/router -run XXX -bench EdgeBudgets
func BenchmarkEdgeBudgets(b *testing.B) {
	rdb, prefix := testenv.Redis(b)
	for _, c := range []struct {
		name    string
		enabled bool
	}{{"without budgets", false}, {"with budgets in Redis", true}} {
		b.Run(c.name, func(b *testing.B) {
			s := edgeSettings(b, func(s *edge.Settings) {
				s.RateLimits.Enabled = c.enabled
				s.RateLimits.Anonymous = edge.Budget{Rate: 1 << 30, Burst: 1 << 30, Period: 1e9}
			})
			e := start(b, withEdge(s, rdb, prefix+c.name))
			body := query("{ hello }")
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(e.url, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
