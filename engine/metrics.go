package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics (docs/metrics.md lists them). What the store counts anyway (messages
// by status, queue depths, the oldest queued message, the store's size) is read from the
// store when Prometheus scrapes (metricsstore.go), so it costs the message path nothing
// and cannot drift from what the UI shows; what only this process sees (delivery
// attempts and their latency, source requests and refusals, the store's commits) is
// counted as it happens, by the hooks below. Label values are bounded: channel and
// destination names come from routes.yaml, sources, outcomes and reasons from the fixed
// lists here; never a message id, a control id or an error text.

// Outcomes of a delivery attempt (the outcome label).
const (
	OutcomeSent  = "sent"  // delivered
	OutcomeError = "error" // failed for good: the delivery is ERROR
	OutcomeRetry = "retry" // failed; retried after its backoff
)

// Reasons a source refuses a request or message (the reason label of
// junction_source_refusals_total). A refused sender got no "accepted": AR, AE or an HTTP
// error status.
const (
	RefusalUnauthorized     = "unauthorized"      // no valid token, or it does not grant this (401, 403)
	RefusalTooLarge         = "too_large"         // over a size limit (413)
	RefusalOverloaded       = "overloaded"        // concurrency limit or memory budget (503): send again shortly
	RefusalChannelStopped   = "channel_stopped"   // its channel is stopped or paused by an operator (503)
	RefusalStoreUnavailable = "store_unavailable" // the store could not commit the message (503)
	RefusalInvalid          = "invalid"           // the envelope or content is wrong: headers, method, routing, parse (4xx)
	RefusalFiltered         = "filtered"          // stored, but filtered with filtered_ack: AR (422)
	RefusalProcessing       = "processing_error"  // stored as ERROR: a transform or validation failed (422)
	RefusalOther            = "other"             // any other failure (5xx)
)

var refusalReasons = map[string]bool{
	RefusalUnauthorized: true, RefusalTooLarge: true, RefusalOverloaded: true, RefusalChannelStopped: true,
	RefusalStoreUnavailable: true, RefusalInvalid: true, RefusalFiltered: true, RefusalProcessing: true, RefusalOther: true,
}

// Histogram buckets, in seconds (and requests per commit).
var (
	latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	commitBuckets  = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	batchBuckets   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

// Metrics are the engine's Prometheus metrics. A nil *Metrics records nothing, so the
// hooks need no check: an engine without metrics (tests, junction bench) pays nothing.
type Metrics struct {
	attempts    *prometheus.CounterVec
	delivery    *prometheus.HistogramVec
	source      *prometheus.HistogramVec
	refusals    *prometheus.CounterVec
	commitTime  *prometheus.HistogramVec
	commitBatch *prometheus.HistogramVec
}

// EnableMetrics registers the engine's metrics with reg (the store's counters included,
// read at each scrape) and turns the engine's hooks on; call it after Load and before
// Start. The store's commit metrics need the store's help: hand Metrics.ObserveCommit to
// it (sqlite.Store.SetCommitObserver).
func (e *Engine) EnableMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_delivery_attempts_total",
			Help: "Delivery attempts by this process, by outcome: sent, error (failed for good) or retry (failed, retried after its backoff).",
		}, []string{"channel", "destination", "outcome"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_delivery_duration_seconds",
			Help:    "Time one delivery attempt took (destination steps, send and answer), whatever its outcome.",
			Buckets: latencyBuckets,
		}, []string{"channel", "destination"}),
		source: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_source_request_duration_seconds",
			Help:    "Time from a request (HTTP) or message (MLLP) arriving to its answer, refusals included; channel is empty when none was chosen.",
			Buckets: latencyBuckets,
		}, []string{"source", "channel"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_source_refusals_total",
			Help: "Requests or messages a source did not answer with accepted (AA, 2xx), by reason; channel is empty when none was chosen.",
		}, []string{"source", "channel", "reason"}),
		commitTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_store_commit_duration_seconds",
			Help:    "Time of one store transaction, begin to commit; sync=full holds accepted messages (fsync), sync=normal only delivery results and other writes.",
			Buckets: commitBuckets,
		}, []string{"sync"}),
		commitBatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_store_commit_batch_size",
			Help:    "Requests (accepted messages, delivery results, leases, operator actions) committed together in one store transaction (group commit).",
			Buckets: batchBuckets,
		}, []string{"sync"}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.delivery, m.source, m.refusals, m.commitTime, m.commitBatch, &storeCollector{e: e}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Zero series for every destination, so that rate() and increase() see the first
	// failure (a counter that appears at 1 has no increase to show).
	for _, ch := range e.cfg.Load().byName {
		if !ch.Enabled {
			continue // no worker: it never attempts anything
		}
		for _, d := range ch.Destinations {
			for _, o := range []string{OutcomeSent, OutcomeError, OutcomeRetry} {
				m.attempts.WithLabelValues(ch.Name, d.Name, o)
			}
		}
	}
	e.metrics = m
	return m, nil
}

// Metrics are the engine's metrics, nil when they are off.
func (e *Engine) Metrics() *Metrics {
	if e == nil {
		return nil
	}
	return e.metrics
}

// ObserveSource records one request (HTTP) or message (MLLP) a source answered: source is
// its type (ingest, fhir-bundle, mllp, fhir-read, other), channel the one that took it (""
// when none was chosen), reason "" when it was accepted, else one of the Refusal reasons.
func (m *Metrics) ObserveSource(source, channel, reason string, took time.Duration) {
	if m == nil {
		return
	}
	m.source.WithLabelValues(source, channel).Observe(took.Seconds())
	m.CountRefusal(source, channel, reason)
}

// CountRefusal counts one refusal (reason "" counts nothing) that has no latency of its
// own to record, e.g. each message of a frame refused whole.
func (m *Metrics) CountRefusal(source, channel, reason string) {
	if m == nil || reason == "" {
		return
	}
	if !refusalReasons[reason] {
		reason = RefusalOther
	}
	m.refusals.WithLabelValues(source, channel, reason).Inc()
}

// ObserveCommit records one store transaction: how long it took, how many requests it
// committed and whether it waited for an fsync (it held accepted messages).
func (m *Metrics) ObserveCommit(took time.Duration, requests int, fsync bool) {
	if m == nil {
		return
	}
	sync := "normal"
	if fsync {
		sync = "full"
	}
	m.commitTime.WithLabelValues(sync).Observe(took.Seconds())
	m.commitBatch.WithLabelValues(sync).Observe(float64(requests))
}

// deliverTimed is deliver, timed.
func (w *queueWorker) deliverTimed(ctx context.Context, dl *Delivery) (Outcome, time.Duration) {
	start := time.Now()
	out := w.d.deliver(ctx, w.ch.Name, dl)
	return out, time.Since(start)
}

// observeAttempt records a classified delivery attempt and how long it took.
func (w *queueWorker) observeAttempt(r AttemptResult, took time.Duration) {
	m := w.e.metrics
	if m == nil {
		return
	}
	outcome := OutcomeSent
	switch r.Status {
	case StatusError:
		outcome = OutcomeError
	case StatusQueued:
		outcome = OutcomeRetry
	}
	m.attempts.WithLabelValues(w.ch.Name, w.d.Name, outcome).Inc()
	m.delivery.WithLabelValues(w.ch.Name, w.d.Name).Observe(took.Seconds())
}
