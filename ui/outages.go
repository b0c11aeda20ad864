package ui

import (
	"context"
	"fmt"
	"time"

	"junction/engine"
)

// Outages on the dashboard (and in GET /api/channels, which it polls every 5 s): a
// destination whose recent attempts all failed (red "failing", with the last error and
// since when), a queue that is growing or old, and a silent source. They are read from
// what the store and the engine's statistics monitor (engine/monitor.go) keep anyway: the
// queues with their heads (engine.AlertStore.AlertQueues), the counters sampled every
// engine.SampleEvery, and each channel's newest messages.

// The thresholds (variables so that tests can shorten them).
var (
	// oldQueueAfter: a queue whose oldest queued message was received longer ago is old.
	oldQueueAfter = 5 * time.Minute
	// growingOver: a queue is growing when its depth never fell over the samples of this
	// long (at least three) and ended higher than it began.
	growingOver = time.Minute
	// silentAfter and activeWithin: a channel is silent when nothing came for silentAfter,
	// although it used to receive: its last two messages came within activeWithin of each
	// other (a feed, not a channel used now and then).
	silentAfter  = 15 * time.Minute
	activeWithin = time.Hour
)

// destHealth is a destination's outage flags.
type destHealth struct {
	State string `json:"state"` // running, paused or failing
	// Failing: every attempt since the last send seen to succeed failed (or the oldest
	// queued message is being retried after failed attempts).
	Failing      bool       `json:"failing"`
	FailingSince *time.Time `json:"failing_since,omitempty"` // when the failures began (the last success seen, or the retried message's arrival)
	LastError    string     `json:"last_error,omitempty"`
	Growing      bool       `json:"growing"` // the queue's depth has been rising
	OldestQueued *time.Time `json:"oldest_queued,omitempty"`
	Old          bool       `json:"old"` // the oldest queued message is older than the threshold
	OldAfter     string     `json:"old_after,omitempty"`
}

// channelHealth is a channel's outage flags.
type channelHealth struct {
	Silent       bool       `json:"silent"` // nothing received for silent_after, although it used to receive
	LastReceived *time.Time `json:"last_received,omitempty"`
	SilentAfter  string     `json:"silent_after"`
}

// markOutages fills the views' health from the store and the monitor's samples. A store
// that cannot answer leaves the flags it would have set unset.
func (s *Server) markOutages(ctx context.Context, views []channelView) {
	now := time.Now()
	facts := map[[2]string]engine.QueueFacts{}
	var received map[string]time.Time
	if as := s.eng.Store(); as != nil {
		if qs, err := as.AlertQueues(ctx); err == nil {
			for _, q := range qs {
				facts[[2]string{q.Channel, q.Destination}] = q
			}
		}
		received, _ = as.LastReceived(ctx)
	}
	hist := s.eng.StatsHistory()
	for i := range views {
		v := &views[i]
		for j := range v.Destinations {
			d := &v.Destinations[j]
			h := destinationHealth(v.Name, d, facts[[2]string{v.Name, d.Name}], hist, now)
			d.Health = &h
		}
		h := channelHealth{SilentAfter: engine.ShortDuration(silentAfter)}
		if last, ok := received[v.Name]; ok {
			h.LastReceived = &last
			h.Silent = v.Enabled && v.State == engine.ChannelStarted && now.Sub(last) >= silentAfter && s.usedToReceive(ctx, v.Name, last)
		}
		v.Health = &h
	}
}

// usedToReceive tells whether the channel received another message within activeWithin
// before its last one (received at last): its two newest, through the channel index.
func (s *Server) usedToReceive(ctx context.Context, channel string, last time.Time) bool {
	page, err := s.eng.Store().ListMessages(ctx, engine.MessageFilter{Channel: channel, Limit: 2})
	return err == nil && len(page) == 2 && last.Sub(page[1].ReceivedAt) <= activeWithin
}

// destinationHealth flags one destination from its queue facts and the sampled counters.
func destinationHealth(channel string, d *destinationView, q engine.QueueFacts, hist []engine.StatsSample, now time.Time) destHealth {
	h := destHealth{State: "running", OldAfter: engine.ShortDuration(oldQueueAfter)}
	series := depthSeries(channel, d.Name, hist, d.Counts, now)
	if !q.Oldest.IsZero() {
		h.OldestQueued = &q.Oldest
		h.Old = now.Sub(q.Oldest) > oldQueueAfter
	}
	h.Growing = growing(series, now)
	if d.Queue.Paused {
		h.State = "paused"
		return h // not attempting: neither failing nor recovering
	}
	lastOK := lastSuccess(series)
	retrying := q.HeadAttempts > 0 && q.HeadError != ""
	errAt := q.LastErrorAt
	switch {
	case retrying:
		h.Failing, h.LastError = true, q.HeadError
	case !errAt.IsZero() && !lastOK.IsZero():
		h.Failing, h.LastError = errAt.After(lastOK), q.LastError
	case !errAt.IsZero() && len(series) > 0:
		// No send seen to succeed since the first sample: failing when the last failure
		// came after it (earlier ones may have been followed by successes).
		h.Failing, h.LastError = !errAt.Before(series[0].at), q.LastError
	}
	if !h.Failing {
		h.LastError = ""
		return h
	}
	h.State = "failing"
	since := lastOK
	if retrying && q.Oldest.After(since) {
		since = q.Oldest // queues deliver in order: everything since the head's arrival waits
	}
	if since.IsZero() || !errAt.IsZero() && since.After(errAt) {
		since = errAt
	}
	if !since.IsZero() {
		h.FailingSince = &since
	}
	return h
}

// point is one sample of a queue's counters.
type point struct {
	at           time.Time
	queued, sent int64
}

// depthSeries is a queue's sampled depth and sends, oldest first, ending with now's.
func depthSeries(channel, dest string, hist []engine.StatsSample, now engine.DestinationCounts, at time.Time) []point {
	out := make([]point, 0, len(hist)+1)
	for _, s := range hist {
		c := s.Stats[channel].Destinations[dest]
		out = append(out, point{at: s.At, queued: c.Queued, sent: c.Sent})
	}
	return append(out, point{at: at, queued: now.Queued, sent: now.Sent})
}

// lastSuccess is the time of the latest point at which the sent counter had grown since
// the point before (a send succeeded between them); zero when none did.
func lastSuccess(series []point) time.Time {
	for i := len(series) - 1; i > 0; i-- {
		if series[i].sent > series[i-1].sent {
			return series[i].at
		}
	}
	return time.Time{}
}

// growing tells whether the depth never fell over the points of the last growingOver
// (at least three) and ended higher than it began.
func growing(series []point, now time.Time) bool {
	from := len(series)
	for from > 0 && now.Sub(series[from-1].at) <= growingOver {
		from--
	}
	w := series[from:]
	if len(w) < 3 {
		return false
	}
	for i := 1; i < len(w); i++ {
		if w[i].queued < w[i-1].queued {
			return false
		}
	}
	return w[len(w)-1].queued > w[0].queued
}

// failingText is the dashboard's line for a failing destination, in UTC (app.js writes
// it again in the browser's time zone): "failing since 14:02Z (38m): connection refused".
func failingText(h *destHealth) string {
	if h == nil || !h.Failing {
		return ""
	}
	s := "failing"
	if h.FailingSince != nil {
		s += fmt.Sprintf(" since %sZ (%s)", h.FailingSince.UTC().Format("15:04"), engine.ShortDuration(time.Since(*h.FailingSince).Round(time.Minute)))
	}
	if h.LastError != "" {
		s += ": " + h.LastError
	}
	return s
}

// OldestAge is how long ago the oldest queued message was received, to the second.
func (h destHealth) OldestAge() string {
	if h.OldestQueued == nil {
		return ""
	}
	return time.Since(*h.OldestQueued).Round(time.Second).String()
}

func init() {
	funcs["failing"] = failingText
}
