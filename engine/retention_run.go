package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The pruner applies retention (retention.go) in the background: a pass every PruneEvery
// (the first PruneFirst after Start), through the store's Pruner, which removes in small
// transactions between the messages being accepted. Each pass that removed something is
// logged and leaves one "prune" audit event per channel it removed from.

// Pruner timing; tests shorten them.
var (
	PruneEvery = 5 * time.Minute
	PruneFirst = time.Minute
)

// RetentionConfigured reports whether the configuration prunes anything.
func (e *Engine) RetentionConfigured() bool {
	if !e.RetentionDefault().IsZero() {
		return true
	}
	for _, ch := range e.Channels() {
		if !ch.Retention.IsZero() {
			return true
		}
	}
	return false
}

// PruneOptions is the configuration's retention as a pass's options: each channel's, and
// the top-level default for the channels in the store the configuration no longer names.
func (e *Engine) PruneOptions(dry bool) PruneOptions {
	o := PruneOptions{Channels: map[string]Retention{}, Default: e.RetentionDefault(), DryRun: dry}
	for _, ch := range e.Channels() {
		o.Channels[ch.Name] = ch.Retention
	}
	return o
}

// Prune runs one retention pass over st (the running store, or one a command opened),
// logs what it removed and, unless dry, records a "prune" event per channel it removed
// from; who says who ran it (the pruner, junction prune).
func (e *Engine) Prune(ctx context.Context, st Store, dry bool, who string) (PruneReport, error) {
	o := e.PruneOptions(dry)
	start := time.Now()
	rep, err := st.Prune(ctx, o)
	if dry {
		return rep, err
	}
	names := make([]string, 0, len(rep.Channels))
	for name := range rep.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := rep.Channels[name]
		if c.Content == 0 && c.Messages == 0 {
			continue
		}
		r, ok := o.Channels[name]
		if !ok {
			r = o.Default
		}
		detail := pruneDetail(c, r) + " (" + who + ")"
		e.Log.Info("retention: pruned", "channel", name, "content_removed", c.Content, "messages_removed", c.Messages,
			"held", c.Held, "retention", r.String(), "by", who)
		if aerr := st.AddEvent(ctx, Event{Kind: "prune", Channel: name, Detail: detail}); aerr != nil && err == nil {
			err = aerr
		}
	}
	if len(names) > 0 || rep.FreedBytes > 0 {
		e.Log.Info("retention: pass done", "took", time.Since(start).Round(time.Millisecond), "freed_bytes", rep.FreedBytes)
	}
	return rep, err
}

// pruneDetail says what a pass removed from a channel, for the audit trail.
func pruneDetail(c PruneCounts, r Retention) string {
	var parts []string
	if c.Content > 0 {
		parts = append(parts, fmt.Sprintf("removed the content of %d messages older than %s", c.Content, FormatAge(r.Content)))
	}
	if c.Messages > 0 {
		s := fmt.Sprintf("removed %d messages", c.Messages)
		switch {
		case r.Messages > 0 && r.Max > 0:
			s += fmt.Sprintf(" older than %s (still queued or in error: %s)", FormatAge(r.Messages), FormatAge(r.Max))
		case r.Messages > 0:
			s += " older than " + FormatAge(r.Messages)
		default:
			s += " still queued or in error, older than " + FormatAge(r.Max)
		}
		parts = append(parts, s)
	}
	return "retention: " + strings.Join(parts, "; ")
}

// startPruner runs a retention pass every PruneEvery until ctx ends, when the store can
// prune; a pass with no retention configured does nothing (the configuration is read at
// each pass).
func (e *Engine) startPruner(ctx context.Context) {
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		t := time.NewTimer(PruneFirst)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !e.RetentionConfigured() {
				// Nothing to prune: kept for ever.
			} else if _, err := e.Prune(ctx, e.store, false, "pruner"); err != nil && ctx.Err() == nil {
				e.Log.Warn("retention: pass failed; trying again at the next", "err", err, "every", PruneEvery)
			}
			t.Reset(PruneEvery)
		}
	}()
}

// contentRemoved refuses what needs a message's content once retention removed it:
// resending it, and reprocessing it as it was (edited content, given, may be reprocessed).
func contentRemoved(m *MessageDetail, edited []byte) error {
	if m == nil || !m.ContentRemoved || edited != nil {
		return nil
	}
	return opErrorf("message %d: its content was removed by the channel's retention", m.ID)
}
