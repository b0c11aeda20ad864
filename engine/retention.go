package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is how long the store keeps a channel's messages (routes.yaml `retention:`,
// at the top as the default and per channel). A zero age keeps for ever, which is the
// default: nothing is pruned unless configured.
//
//   - Content: after this age a message's content goes (raw, transformed, warnings, and
//     each delivery's encoded, sent, response and edited content), and its words leave
//     the full-text index; the message row, its deliveries' statuses, attempts and
//     errors stay.
//   - Messages: after this age the message goes altogether (row, content, deliveries).
//   - Max: messages still QUEUED or in ERROR are kept (content and all) until they are
//     resolved; after Max they are removed altogether all the same.
type Retention struct {
	Content  time.Duration
	Messages time.Duration
	Max      time.Duration
}

// IsZero reports whether r keeps everything for ever.
func (r Retention) IsZero() bool { return r == Retention{} }

// String is r as routes.yaml writes it ("content 30d, messages 90d").
func (r Retention) String() string {
	if r.IsZero() {
		return "kept for ever"
	}
	var parts []string
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"content", r.Content}, {"messages", r.Messages}, {"max", r.Max}} {
		if p.d > 0 {
			parts = append(parts, p.name+" "+FormatAge(p.d))
		}
	}
	return strings.Join(parts, ", ")
}

// RetentionFields are the keys of the top-level `retention:` block, the default of every
// channel; ChannelRetentionFields those of a channel's, each key of which overrides the
// default's. TopFields and ChannelFields name them retention.content, …
var (
	RetentionFields = []FieldSpec{
		{Name: "retention.content", Type: "age", DefaultNote: "for ever", Example: "30d",
			Description: "after this age a message's content is removed (raw, transformed, and what was encoded, sent and answered for each destination) and its words leave search; the message, its statuses and errors stay. An age is a whole number and d (days), or h, m or s (12h, 1h30m), or forever"},
		{Name: "retention.messages", Type: "age", DefaultNote: "for ever", Example: "90d",
			Description: "after this age the message is removed altogether (with its deliveries); at least content. Messages still QUEUED or in ERROR are kept until resolved (see max)"},
		{Name: "retention.max", Type: "age", DefaultNote: "never", Example: "365d",
			Description: "after this age even a message still QUEUED or in ERROR is removed altogether (its queued deliveries are never sent); at least content and messages"},
	}
	ChannelRetentionFields = []FieldSpec{
		{Name: "retention.content", Type: "age", DefaultNote: "the top-level retention's", Example: "7d",
			Description: "this channel's content age (see the top-level retention.content); forever keeps its content whatever the default"},
		{Name: "retention.messages", Type: "age", DefaultNote: "the top-level retention's", Example: "30d",
			Description: "this channel's messages age (see the top-level retention.messages)"},
		{Name: "retention.max", Type: "age", DefaultNote: "the top-level retention's", Example: "180d",
			Description: "this channel's max age of messages still QUEUED or in ERROR (see the top-level retention.max)"},
	}
)

// buildRetention reads n's `retention:` block over def (the top-level default, or the
// zero Retention for the top itself): keys not given keep def's. Mistakes are recorded on
// n with the block's FILE:LINE.
func buildRetention(n *Node, def Retention) Retention {
	m := n.Map("retention", false)
	if m == nil {
		return def
	}
	if n.Path == "" {
		m.Path = "retention" // at the top
	}
	r := def
	given := map[string]bool{}
	for _, k := range []struct {
		name string
		to   *time.Duration
	}{{"content", &r.Content}, {"messages", &r.Messages}, {"max", &r.Max}} {
		y, path := m.child(k.name)
		if y == nil {
			continue
		}
		d, err := ParseAge(y.Value)
		if err != nil {
			m.ErrorAt(y, path, "%v, got %s", err, describe(y))
			continue
		}
		*k.to, given[k.name] = d, true
	}
	m.CheckUnknown()
	from := func(key string) string {
		if given[key] {
			return ""
		}
		return ", the top-level retention's"
	}
	check := func(longer, shorter string, l, s time.Duration) {
		if l == 0 || s == 0 || l >= s || !given[longer] && !given[shorter] {
			return // (both the default's: reported at the top)
		}
		at := longer
		if !given[longer] {
			at = shorter
		}
		y, path := m.child(at)
		if y == nil {
			y, path = m.Y, m.Path
		}
		m.ErrorAt(y, path, "%s (%s%s) must not be shorter than %s (%s%s)", longer, FormatAge(l), from(longer), shorter, FormatAge(s), from(shorter))
	}
	check("messages", "content", r.Messages, r.Content)
	check("max", "messages", r.Max, r.Messages)
	check("max", "content", r.Max, r.Content)
	return r
}

// ParseAge reads a retention age: a whole number of days (30d), or hours, minutes or
// seconds (12h, 90m, 1h30m), or "forever" (0: kept for ever).
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	const want = "expected an age such as 30d, 12h or forever"
	if s == "forever" || s == "never" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*366 {
			return 0, fmt.Errorf("%s", want)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || strings.ContainsAny(s, "nuµ") || strings.Contains(s, "ms") {
		return 0, fmt.Errorf("%s", want)
	}
	return d, nil
}

// FormatAge writes d as ParseAge reads it: whole days as 30d, anything else as Go does.
func FormatAge(d time.Duration) string {
	if d == 0 {
		return "forever"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// PruneOptions is one pruning pass over a store.
type PruneOptions struct {
	// Channels holds each configured channel's retention; Default applies to channels
	// found in the store that the configuration no longer names.
	Channels map[string]Retention
	Default  Retention
	// Now is the time ages are counted from (zero: time.Now()).
	Now time.Time
	// DryRun counts what would go and changes nothing.
	DryRun bool
	// Batch is how many messages one write transaction removes (0: the store's default,
	// a few hundred), so that a pass never holds the writer for long.
	Batch int
}

// PruneCounts is what a pass removed (or, dry, would remove) from one channel.
type PruneCounts struct {
	Content  int64 `json:"content"`  // messages whose content went, the messages kept
	Messages int64 `json:"messages"` // messages removed altogether
	Held     int64 `json:"held"`     // messages past an age kept because QUEUED or in ERROR
}

// PruneReport is what one pass did.
type PruneReport struct {
	Channels map[string]PruneCounts `json:"channels"`
	// FreedBytes is how much the file shrank (incremental vacuum), when it could.
	FreedBytes int64 `json:"freed_bytes"`
}

// Pruner applies retention.
type Pruner interface {
	// Prune removes what o's retention says has expired, in small transactions that
	// interleave with other writes, and reclaims the space. Messages QUEUED or in ERROR
	// are kept until resolved or past Max. Removed content is removed from search too.
	Prune(ctx context.Context, o PruneOptions) (PruneReport, error)
}
