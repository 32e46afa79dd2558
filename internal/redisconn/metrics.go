package redisconn

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Pool usage of every Redis client a process registered (go-redis's pool statistics; for a
// cluster client, summed over its nodes).
var (
	redisLabels   = []string{"client"}
	redisTotal    = prometheus.NewDesc("careslot_redis_pool_total_connections", "Open connections.", redisLabels, nil)
	redisIdle     = prometheus.NewDesc("careslot_redis_pool_idle_connections", "Idle connections.", redisLabels, nil)
	redisHits     = prometheus.NewDesc("careslot_redis_pool_hits_total", "Commands that found a free connection.", redisLabels, nil)
	redisMisses   = prometheus.NewDesc("careslot_redis_pool_misses_total", "Commands that had to open a connection.", redisLabels, nil)
	redisTimeouts = prometheus.NewDesc("careslot_redis_pool_timeouts_total", "Commands that waited for a connection in vain.", redisLabels, nil)

	clients = struct {
		sync.Mutex
		byClient map[redis.UniversalClient]string
	}{byClient: map[redis.UniversalClient]string{}}
)

func init() { prometheus.MustRegister(poolCollector{}) }

// Instrument exports the client's pool usage under name until the returned function is called.
func Instrument(name string, c redis.UniversalClient) func() {
	clients.Lock()
	defer clients.Unlock()
	clients.byClient[c] = name
	return func() {
		clients.Lock()
		defer clients.Unlock()
		delete(clients.byClient, c)
	}
}

type poolCollector struct{}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{redisTotal, redisIdle, redisHits, redisMisses, redisTimeouts} {
		ch <- d
	}
}

func (poolCollector) Collect(ch chan<- prometheus.Metric) {
	clients.Lock()
	// Clients registered under one name are summed.
	sums := map[string]*[5]float64{}
	for c, name := range clients.byClient {
		s := c.PoolStats()
		v := sums[name]
		if v == nil {
			v = &[5]float64{}
			sums[name] = v
		}
		for i, x := range []float64{float64(s.TotalConns), float64(s.IdleConns), float64(s.Hits), float64(s.Misses), float64(s.Timeouts)} {
			v[i] += x
		}
	}
	clients.Unlock()
	for name, v := range sums {
		ch <- prometheus.MustNewConstMetric(redisTotal, prometheus.GaugeValue, v[0], name)
		ch <- prometheus.MustNewConstMetric(redisIdle, prometheus.GaugeValue, v[1], name)
		ch <- prometheus.MustNewConstMetric(redisHits, prometheus.CounterValue, v[2], name)
		ch <- prometheus.MustNewConstMetric(redisMisses, prometheus.CounterValue, v[3], name)
		ch <- prometheus.MustNewConstMetric(redisTimeouts, prometheus.CounterValue, v[4], name)
	}
}
