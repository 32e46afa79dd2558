package livehub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// liveSubscribers counts the live subscriptions (slotsChanged, agendaChanged) the hubs of this
// process feed.
var liveSubscribers = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "careslot_live_subscribers",
	Help: "Live subscriptions this process feeds from Redis pub/sub.",
})

// liveMessages counts the messages the hubs of this process handed to subscribers, and those a
// newer message replaced in a subscriber's full buffer (a subscriber that stops receiving shows
// here as messages that keep being dropped, or none delivered).
var (
	liveDelivered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "careslot_live_messages_delivered_total",
		Help: "Messages handed to live subscribers.",
	})
	liveDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "careslot_live_messages_dropped_total",
		Help: "Messages a newer one replaced in a live subscriber's full buffer.",
	})
)
