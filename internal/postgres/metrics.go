package postgres

import (
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Pool usage of every pool a service registered: how close it runs to its maximum, and how
// often and how long requests waited for a connection.
var (
	poolLabels   = []string{"database"}
	poolAcquired = prometheus.NewDesc("careslot_pgxpool_acquired_connections", "Connections in use.", poolLabels, nil)
	poolIdle     = prometheus.NewDesc("careslot_pgxpool_idle_connections", "Idle connections.", poolLabels, nil)
	poolTotal    = prometheus.NewDesc("careslot_pgxpool_total_connections", "Open connections.", poolLabels, nil)
	poolMax      = prometheus.NewDesc("careslot_pgxpool_max_connections", "The pool's maximum.", poolLabels, nil)
	poolAcquires = prometheus.NewDesc("careslot_pgxpool_acquires_total", "Connections acquired.", poolLabels, nil)
	poolEmpty    = prometheus.NewDesc("careslot_pgxpool_empty_acquires_total", "Acquires that had to wait for a connection.", poolLabels, nil)
	poolWait     = prometheus.NewDesc("careslot_pgxpool_acquire_wait_seconds_total", "Time spent waiting for a connection.", poolLabels, nil)

	instrumented = struct {
		sync.Mutex
		pools map[*pgxpool.Pool]string
	}{pools: map[*pgxpool.Pool]string{}}
)

func init() { prometheus.MustRegister(poolCollector{}) }

// Instrument exports pool's usage labelled with its database name until the returned function
// is called (before the pool is closed).
func Instrument(pool *pgxpool.Pool) func() {
	instrumented.Lock()
	defer instrumented.Unlock()
	instrumented.pools[pool] = pool.Config().ConnConfig.Database
	return func() {
		instrumented.Lock()
		defer instrumented.Unlock()
		delete(instrumented.pools, pool)
	}
}

type poolCollector struct{}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolEmpty, poolWait} {
		ch <- d
	}
}

func (poolCollector) Collect(ch chan<- prometheus.Metric) {
	instrumented.Lock()
	// Pools of one database (a process may open two) are summed.
	sums := map[string]*[7]float64{}
	for pool, db := range instrumented.pools {
		s := pool.Stat()
		v := sums[db]
		if v == nil {
			v = &[7]float64{}
			sums[db] = v
		}
		for i, x := range []float64{float64(s.AcquiredConns()), float64(s.IdleConns()), float64(s.TotalConns()), float64(s.MaxConns()),
			float64(s.AcquireCount()), float64(s.EmptyAcquireCount()), s.EmptyAcquireWaitTime().Seconds()} {
			v[i] += x
		}
	}
	instrumented.Unlock()
	for db, v := range sums {
		for i, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v[i], db)
		}
		for i, d := range []*prometheus.Desc{poolAcquires, poolEmpty, poolWait} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v[4+i], db)
		}
	}
}
