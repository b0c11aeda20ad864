package alerts

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"junction/engine"
)

// finding is one alert's condition for one subject at one evaluation.
type finding struct {
	subject, channel, destination string
	holds                         bool
	since                         time.Time // when it began, when known (zero: now)
	detail                        string
	link                          string // the UI's filtered message list (path and query)
}

// facts are what one evaluation reads from the store, each at most once.
type facts struct {
	ctx      context.Context
	store    engine.AlertStore
	queues   map[string]engine.QueueFacts // by channel/destination
	received map[string]time.Time
	errors   map[time.Duration]map[string]int64 // by window
}

func (f *facts) queue(ch, dest string) (engine.QueueFacts, error) {
	if f.queues == nil {
		qs, err := f.store.AlertQueues(f.ctx)
		if err != nil {
			return engine.QueueFacts{}, err
		}
		f.queues = make(map[string]engine.QueueFacts, len(qs))
		for _, q := range qs {
			f.queues[q.Channel+"/"+q.Destination] = q
		}
	}
	q, ok := f.queues[ch+"/"+dest]
	if !ok {
		q = engine.QueueFacts{Channel: ch, Destination: dest}
	}
	return q, nil
}

func (f *facts) lastReceived(ch string) (time.Time, error) {
	if f.received == nil {
		m, err := f.store.LastReceived(f.ctx)
		if err != nil {
			return time.Time{}, err
		}
		f.received = m
	}
	return f.received[ch], nil
}

func (f *facts) errorCounts(window time.Duration, now time.Time) (map[string]int64, error) {
	if m, ok := f.errors[window]; ok {
		return m, nil
	}
	m, err := f.store.ErrorCounts(f.ctx, now.Add(-window))
	if err != nil {
		return nil, err
	}
	if f.errors == nil {
		f.errors = map[time.Duration]map[string]int64{}
	}
	f.errors[window] = m
	return m, nil
}

// check evaluates a's condition for each of its subjects.
func (r *Runner) check(f *facts, a *engine.Alert, now time.Time) ([]finding, error) {
	c := a.When
	var out []finding
	switch c.Kind {
	case engine.CondDestinationFailing, engine.CondQueue:
		for _, ch := range r.channels(c.Channel) {
			for _, d := range ch.Destinations {
				if c.Destination != "" && d.Name != c.Destination {
					continue
				}
				q, err := f.queue(ch.Name, d.Name)
				if err != nil {
					return nil, err
				}
				if c.Kind == engine.CondQueue {
					out = append(out, queueFinding(c, q, now))
				} else {
					out = append(out, r.failingFinding(a, q))
				}
			}
		}
	case engine.CondErrors:
		counts, err := f.errorCounts(c.Within, now)
		if err != nil {
			return nil, err
		}
		if c.PerChannel {
			for _, ch := range r.channels("") {
				out = append(out, errorsFinding(c, ch.Name, counts[ch.Name], now))
			}
			break
		}
		var n int64
		for ch, k := range counts {
			if c.Channel == "" || ch == c.Channel {
				n += k
			}
		}
		out = append(out, errorsFinding(c, c.Channel, n, now))
	case engine.CondChannelStopped:
		for _, ch := range r.channels(c.Channel) {
			st := r.eng.ChannelState(ch.Name)
			out = append(out, finding{subject: ch.Name, channel: ch.Name, holds: st == engine.ChannelStopped,
				detail: "channel " + ch.Name + " is " + st + " (by an operator)", link: c.Link(ch.Name, "", now)})
		}
	case engine.CondSourceSilent:
		for _, ch := range r.channels(c.Channel) {
			last, err := f.lastReceived(ch.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, r.silentFinding(c, ch.Name, last, now))
		}
	}
	return out, nil
}

// errorsFinding is n ERROR messages of channel ("" for all channels) in c's window.
func errorsFinding(c engine.AlertCondition, channel string, n int64, now time.Time) finding {
	return finding{subject: channel, channel: channel, holds: n > int64(c.MoreThan),
		detail: fmt.Sprintf("%s in ERROR received within the last %s (more than %d alerts)", count(n, "message"), engine.ShortDuration(c.Within), c.MoreThan),
		link:   c.Link(channel, "", now)}
}

// channels are the enabled channels a condition names (all when name is empty).
func (r *Runner) channels(name string) []*engine.Channel {
	var out []*engine.Channel
	for _, ch := range r.eng.Channels() {
		if ch.Enabled && (name == "" || ch.Name == name) {
			out = append(out, ch)
		}
	}
	return out
}

func destLink(ch, dest, status string) string {
	q := url.Values{"channel": {ch}, "destination": {dest}, "destination_status": {status}}
	return "/messages?" + q.Encode()
}

func queueFinding(c engine.AlertCondition, q engine.QueueFacts, now time.Time) finding {
	f := finding{subject: q.Channel + "/" + q.Destination, channel: q.Channel, destination: q.Destination,
		link: destLink(q.Channel, q.Destination, "QUEUED")}
	old := c.OlderThan > 0 && !q.Oldest.IsZero() && now.Sub(q.Oldest) > c.OlderThan
	deep := c.DeeperThan > 0 && q.Queued > c.DeeperThan
	f.holds = old || deep
	f.detail = count(q.Queued, "message") + " queued"
	if !q.Oldest.IsZero() {
		f.detail += fmt.Sprintf(", the oldest received %s (%s ago)", q.Oldest.UTC().Format(time.RFC3339), now.Sub(q.Oldest).Round(time.Second))
	}
	if old {
		f.since = q.Oldest.Add(c.OlderThan)
	}
	if q.LastError != "" {
		f.detail += "; last error: " + q.LastError
	}
	return f
}

// failingFinding tells whether every attempt of a destination has failed since its last
// success: its queue head is being retried, or its last attempt failed (no send has
// succeeded after the last failure, as the store tells: RecoveredAt). Both are read from
// the store, so a runner started after a restart or a reload sees a recovery that
// happened before it. A failure from before Junction started is let be unless the alert
// was already pending or active then.
func (r *Runner) failingFinding(a *engine.Alert, q engine.QueueFacts) finding {
	subject := q.Channel + "/" + q.Destination
	f := finding{subject: subject, channel: q.Channel, destination: q.Destination,
		link: destLink(q.Channel, q.Destination, "QUEUED")}
	_, had := r.states[stateKey{a.Name, subject}]
	retrying := q.HeadAttempts > 0 && q.HeadError != ""
	lastFailed := !q.LastErrorAt.IsZero() && q.RecoveredAt.IsZero() && (had || q.LastErrorAt.After(r.startedAt))
	f.holds = retrying || lastFailed
	if !f.holds {
		f.detail = "delivering again: a send succeeded; " + count(q.Queued, "message") + " queued"
		return f
	}
	f.since = q.LastErrorAt
	lastErr := q.LastError
	if retrying {
		lastErr = q.HeadError
		f.detail = fmt.Sprintf("the oldest queued message has failed %s; %s queued; last error: %s", count(int64(q.HeadAttempts), "attempt"), count(q.Queued, "message"), lastErr)
	} else {
		f.link = destLink(q.Channel, q.Destination, "ERROR")
		f.detail = fmt.Sprintf("every attempt since the last success failed; %s queued; last error: %s", count(q.Queued, "message"), lastErr)
	}
	return f
}

func (r *Runner) silentFinding(c engine.AlertCondition, ch string, last, now time.Time) finding {
	f := finding{subject: ch, channel: ch, link: c.Link(ch, "", now)}
	from := last
	if from.IsZero() {
		from = r.startedAt // nothing ever received: silent since Junction started
	}
	var silent time.Duration
	if c.Hours == nil {
		silent = now.Sub(from)
	} else {
		silent = c.Hours.Overlap(from, now, c.For)
	}
	f.holds = silent >= c.For
	f.since = from
	if last.IsZero() {
		f.detail = "nothing received since Junction started at " + from.UTC().Format(time.RFC3339)
	} else {
		f.detail = "the last message was received at " + last.UTC().Format(time.RFC3339)
	}
	if c.Hours != nil {
		f.detail += " (expected " + c.Hours.String() + ")"
	}
	return f
}

// count is n and noun, plural unless n is 1.
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
