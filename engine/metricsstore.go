package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueAge is when the oldest message QUEUED on one destination queue was received.
type QueueAge struct {
	Channel, Destination string
	Oldest               time.Time
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// storeCollector reads the store's counters when Prometheus scrapes: a few small table
// scans (one row per channel and per queue) and one index probe per queue, whatever the
// number of messages. With a store shared by several nodes the figures are the cluster's.
type storeCollector struct{ e *Engine }

var (
	descReceived = prometheus.NewDesc("junction_messages_received_total",
		"Messages a channel received (lifetime, from the store; kept when messages are removed).", []string{"channel"}, nil)
	descFiltered = prometheus.NewDesc("junction_messages_filtered_total",
		"Messages FILTERED: by the channel's filters, or by every destination's (lifetime, from the store).", []string{"channel"}, nil)
	descErrored = prometheus.NewDesc("junction_messages_errored_total",
		"Messages that failed at the source: parse or transform (lifetime, from the store).", []string{"channel"}, nil)
	descDeliveries = prometheus.NewDesc("junction_deliveries",
		"Deliveries of a destination now in each status: queued, sent, error, filtered (from the store; a resend moves one back to queued, a removed message takes its own away).",
		[]string{"channel", "destination", "status"}, nil)
	descDepth = prometheus.NewDesc("junction_queue_depth",
		"Messages waiting on a destination's queue (QUEUED deliveries).", []string{"channel", "destination"}, nil)
	descOldest = prometheus.NewDesc("junction_queue_oldest_age_seconds",
		"Age of the oldest message waiting on a destination's queue (since it was received); 0 when the queue is empty.", []string{"channel", "destination"}, nil)
	descPaused = prometheus.NewDesc("junction_queue_paused",
		"1 when an operator paused the destination's queue, else 0.", []string{"channel", "destination"}, nil)
	descState = prometheus.NewDesc("junction_channel_state",
		"1 for the channel's state, 0 for the others: started, paused or stopped (by an operator), disabled (in routes.yaml).", []string{"channel", "state"}, nil)
	descSize = prometheus.NewDesc("junction_store_size_bytes",
		"Size of the message store on disk: the database file and its write-ahead log.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descFiltered, descErrored, descDeliveries, descDepth, descOldest, descPaused, descState, descSize} {
		ch <- d
	}
}

func (c *storeCollector) Collect(out chan<- prometheus.Metric) {
	st := c.e.Store()
	if st == nil {
		return // not started
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	stats, err := st.Stats(ctx)
	if err != nil {
		out <- prometheus.NewInvalidMetric(descReceived, fmt.Errorf("reading the store's counters: %w", err))
		return
	}
	ages := map[[2]string]time.Time{}
	list, err := st.OldestQueued(ctx)
	if err != nil {
		out <- prometheus.NewInvalidMetric(descOldest, fmt.Errorf("reading the queues' oldest messages: %w", err))
	}
	for _, a := range list {
		ages[[2]string{a.Channel, a.Destination}] = a.Oldest
	}
	paused := map[[2]string]bool{}
	if qs, err := st.Queues(ctx); err != nil {
		out <- prometheus.NewInvalidMetric(descPaused, fmt.Errorf("reading the queues: %w", err))
	} else {
		for _, q := range qs {
			paused[[2]string{q.Channel, q.Destination}] = q.Paused
		}
	}
	now := time.Now()
	for name, cs := range stats {
		c.channelState(out, name)
		out <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(cs.Received), name)
		out <- prometheus.MustNewConstMetric(descFiltered, prometheus.CounterValue, float64(cs.Filtered), name)
		out <- prometheus.MustNewConstMetric(descErrored, prometheus.CounterValue, float64(cs.Errored), name)
		for dest, dc := range cs.Destinations {
			for _, s := range [...]struct {
				status string
				n      int64
			}{{"queued", dc.Queued}, {"sent", dc.Sent}, {"error", dc.Error}, {"filtered", dc.Filtered}} {
				out <- prometheus.MustNewConstMetric(descDeliveries, prometheus.GaugeValue, float64(s.n), name, dest, s.status)
			}
			out <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(dc.Queued), name, dest)
			key := [2]string{name, dest}
			age := 0.0
			if t, ok := ages[key]; ok && dc.Queued > 0 {
				age = max(now.Sub(t).Seconds(), 0)
			}
			out <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, name, dest)
			p := 0.0
			if paused[key] {
				p = 1
			}
			out <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, p, name, dest)
		}
	}
	if n, err := st.Size(ctx); err != nil {
		out <- prometheus.NewInvalidMetric(descSize, fmt.Errorf("reading the store's size: %w", err))
	} else {
		out <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(n))
	}
}

// channelStates are the values of junction_channel_state's state label.
var channelStates = []string{ChannelStarted, ChannelPaused, ChannelStopped, "disabled"}

// channelState sends junction_channel_state for a channel of the configuration (one the
// store counts but the configuration no longer has is left out).
func (c *storeCollector) channelState(out chan<- prometheus.Metric, name string) {
	ch := c.e.Channel(name)
	if ch == nil {
		return
	}
	state := "disabled"
	if ch.Enabled {
		state = c.e.ChannelState(name)
	}
	for _, s := range channelStates {
		v := 0.0
		if s == state {
			v = 1
		}
		out <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, name, s)
	}
}
