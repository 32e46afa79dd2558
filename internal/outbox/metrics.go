package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The outbox of every database a relay of this process serves, read at scrape time: how many
// events wait and how old the oldest is (the first sign of a broker outage or a stuck relay).
var (
	backlogDesc = prometheus.NewDesc("careslot_outbox_backlog",
		"Events written to the outbox and not yet acknowledged by Kafka.", []string{"database"}, nil)
	oldestDesc = prometheus.NewDesc("careslot_outbox_oldest_age_seconds",
		"Age of the oldest event not yet acknowledged by Kafka (0 when the outbox is empty).", []string{"database"}, nil)
	publishedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_outbox_published_total",
		Help: "Events the relays published and Kafka acknowledged.",
	}, []string{"database"})
)

func init() { prometheus.MustRegister(backlogCollector{}) }

type backlogCollector struct{}

func (backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- oldestDesc
}

func (backlogCollector) Collect(ch chan<- prometheus.Metric) {
	relays.Lock()
	pools := make([]*pgxpool.Pool, 0, len(relays.byPool))
	for p := range relays.byPool {
		pools = append(pools, p)
	}
	relays.Unlock()
	for _, p := range pools {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var n int64
		var age float64
		err := p.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM outbox`).Scan(&n, &age)
		cancel()
		if err != nil {
			continue // a scrape during an outage shows the gap rather than a guess
		}
		db := p.Config().ConnConfig.Database
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n), db)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, db)
	}
}
