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
