package kafka

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	consumerLag = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "careslot_kafka_consumer_lag",
		Help: "Records of a partition not yet applied by the consumer group: the high watermark the last fetch saw minus the next offset to apply.",
	}, []string{"group", "topic", "partition"})
	consumedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_kafka_consumed_records_total",
		Help: "Records a consumer group is done with: applied (handler succeeded or the event was a duplicate) or dead-lettered.",
	}, []string{"group", "topic"})
	deadLetteredTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_kafka_dead_lettered_total",
		Help: "Records a consumer group gave up on (undecodable, or a permanent handler error) and wrote to the topic's dead-letter topic, <topic>.dlq.",
	}, []string{"group", "topic"})
)

// observeLag records a partition's lag after its fetched records up to last were applied
// (last nil: none were).
func observeLag(group string, p kgo.FetchTopicPartition, last *kgo.Record) {
	next := int64(-1)
	switch {
	case last != nil:
		next = last.Offset + 1
	case len(p.Records) > 0:
		next = p.Records[0].Offset
	}
	if next < 0 || p.HighWatermark < 0 {
		return
	}
	lag := p.HighWatermark - next
	if lag < 0 {
		lag = 0
	}
	consumerLag.WithLabelValues(group, p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(lag))
}
