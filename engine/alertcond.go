package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// alertConditions are the keys under an alert's when:, each a condition kind.
var alertConditions = []string{CondDestinationFailing, CondQueue, CondErrors, CondChannelStopped, CondSourceSilent}

// buildCondition reads an alert's when: block: exactly one condition, naming channels and
// destinations that exist.
func buildCondition(n *Node, e *Engine) AlertCondition {
	w := n.Block("when")
	if w == nil {
		return AlertCondition{}
	}
	var kinds []string
	for _, k := range alertConditions {
		if w.Has(k) {
			kinds = append(kinds, k)
		}
	}
	defer w.CheckUnknown()
	if len(kinds) != 1 {
		if len(kinds) > 1 || len(w.Y.Content) == 0 {
			w.Errorf("expected exactly one condition (one of %s), got %d: write one alert per condition", strings.Join(alertConditions, ", "), len(kinds))
		}
		return AlertCondition{}
	}
	c := AlertCondition{Kind: kinds[0]}
	b := w.Block(c.Kind)
	if b == nil {
		return AlertCondition{}
	}
	defer b.CheckUnknown()
	c.Channel = b.Str("channel")
	ch := alertChannel(b, e, c.Channel)
	switch c.Kind {
	case CondDestinationFailing, CondQueue:
		c.Destination = b.Str("destination")
		alertDestination(b, e, ch, c.Channel, c.Destination)
	}
	switch c.Kind {
	case CondDestinationFailing, CondChannelStopped:
		c.For = b.Dur("for")
	case CondQueue:
		c.OlderThan = b.Dur("older_than")
		c.DeeperThan = int64(b.Num("deeper_than", 0))
		if c.OlderThan <= 0 && c.DeeperThan <= 0 {
			b.Errorf("expected older_than (a duration), deeper_than (a number of messages) or both")
		}
	case CondErrors:
		c.MoreThan = b.Num("more_than", 0)
		c.Within = b.Dur("within")
		c.PerChannel = b.Flag("per_channel")
		if c.PerChannel && c.Channel != "" {
			b.ErrorAt(b.Raw("per_channel"), b.Path+".per_channel", "counts each channel on its own: leave channel out, or per_channel")
		}
		if c.Within <= 0 {
			b.ErrorAt(b.Raw("within"), b.Path+".within", "must be longer than 0s")
		}
	case CondSourceSilent:
		c.For = b.Dur("for")
		if c.For <= 0 {
			b.ErrorAt(b.Raw("for"), b.Path+".for", "must be longer than 0s")
		}
		if ch != nil && !ch.Enabled {
			b.ErrorAt(b.Raw("channel"), b.Path+".channel", "channel %s is disabled (enabled: false): it never receives anything", ch.Name)
		}
		c.Hours = buildHours(b)
	}
	return c
}

// alertChannel is the channel named, or nil (recording an error when it does not exist).
func alertChannel(b *Node, e *Engine, name string) *Channel {
	if name == "" {
		return nil
	}
	ch := e.conf().byName[name]
	if ch == nil {
		b.ErrorAt(b.Raw("channel"), b.Path+".channel", "no channel is named %q (channels: %s)", name, strings.Join(channelNames(e), ", "))
	}
	return ch
}

// alertDestination checks a destination name: of ch when a channel is named, else of
// any channel.
func alertDestination(b *Node, e *Engine, ch *Channel, chName, name string) {
	if name == "" || (chName != "" && ch == nil) {
		return
	}
	var names []string
	for _, c := range e.conf().channels {
		if ch != nil && c != ch {
			continue
		}
		for _, d := range c.Destinations {
			if d.Name == name {
				return
			}
			if !slices.Contains(names, d.Name) {
				names = append(names, d.Name)
			}
		}
	}
	where := "any channel"
	if ch != nil {
		where = "channel " + ch.Name
	}
	b.ErrorAt(b.Raw("destination"), b.Path+".destination", "no destination of %s is named %q (destinations: %s)", where, name, strings.Join(names, ", "))
}

func channelNames(e *Engine) []string {
	out := make([]string, len(e.conf().channels))
	for i, ch := range e.conf().channels {
		out[i] = ch.Name
	}
	return out
}

// ActiveHours are the hours of the week a source is expected to receive messages:
// From–To (minutes after midnight; To ≤ From runs past midnight) on Days, in Loc.
type ActiveHours struct {
	From, To int
	Days     [7]bool // by time.Weekday
	Loc      *time.Location
	text     string
}

func (h *ActiveHours) String() string { return h.text }

// Contains tells whether t falls in the hours.
func (h *ActiveHours) Contains(t time.Time) bool {
	return h.Overlap(t, t.Add(time.Nanosecond), time.Nanosecond) > 0
}

// Overlap is how much of [from, to) falls in the hours, counted back from to and no
// further than enough (so a long span costs no more than enough needs).
func (h *ActiveHours) Overlap(from, to time.Time, enough time.Duration) time.Duration {
	if !to.After(from) {
		return 0
	}
	var sum time.Duration
	end := to.In(h.Loc)
	day := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, h.Loc)
	// A window opened the day before may run past midnight into to's day.
	for d := 0; sum < enough; d++ {
		start := day.AddDate(0, 0, -d)
		if start.AddDate(0, 0, 2).Before(from) {
			break
		}
		if !h.Days[start.Weekday()] {
			continue
		}
		ws := time.Date(start.Year(), start.Month(), start.Day(), h.From/60, h.From%60, 0, 0, h.Loc)
		endDay := start
		if h.To <= h.From {
			endDay = start.AddDate(0, 0, 1)
		}
		we := time.Date(endDay.Year(), endDay.Month(), endDay.Day(), 0, 0, 0, 0, h.Loc).Add(time.Duration(h.To) * time.Minute)
		lo, hi := maxTime(ws, from), minTime(we, to)
		if hi.After(lo) {
			sum += hi.Sub(lo)
		}
	}
	return sum
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// buildHours reads hours, days and time_zone of a source_silent condition; nil when
// none is given (every hour of every day).
func buildHours(b *Node) *ActiveHours {
	hours, days, tz := b.Str("hours"), b.Strs("days"), b.Str("time_zone")
	if hours == "" && len(days) == 0 && tz == "" {
		return nil
	}
	h := &ActiveHours{From: 0, To: 24 * 60, Loc: time.Local}
	var text []string
	if hours != "" {
		from, to, ok := parseHours(hours)
		if !ok {
			b.ErrorAt(b.Raw("hours"), b.Path+".hours", "expected a time range such as 07:00-19:00 (24-hour clock; 22:00-06:00 runs past midnight), got %q", hours)
		}
		h.From, h.To = from, to
		text = append(text, hours)
	}
	if len(days) == 0 {
		h.Days = [7]bool{true, true, true, true, true, true, true}
	} else {
		var ok bool
		if h.Days, ok = parseDays(days); !ok {
			b.ErrorAt(b.Raw("days"), b.Path+".days", "expected days such as mon-fri, sat,sun or [mon, wed, fri], got %q", strings.Join(days, ","))
		}
		text = append(text, strings.Join(days, ","))
	}
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			b.ErrorAt(b.Raw("time_zone"), b.Path+".time_zone", "expected an IANA time zone such as Europe/London, got %q", tz)
		} else {
			h.Loc = loc
		}
		text = append(text, tz)
	}
	h.text = strings.Join(text, " ")
	return h
}

// parseHours reads "HH:MM-HH:MM" as minutes after midnight (the end may be 24:00).
func parseHours(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !found {
		return 0, 0, false
	}
	clock := func(v string, max int) (int, bool) {
		var hh, mm int
		if n, err := fmt.Sscanf(v, "%d:%d", &hh, &mm); err != nil || n != 2 || len(v) != 5 || mm > 59 || hh*60+mm > max {
			return 0, false
		}
		return hh*60 + mm, true
	}
	from, ok1 := clock(a, 23*60+59)
	to, ok2 := clock(b, 24*60)
	return from, to, ok1 && ok2 && from != to
}

// parseDays reads day names (mon … sun) and ranges of them (mon-fri, fri-mon).
func parseDays(items []string) (days [7]bool, ok bool) {
	day := func(s string) int {
		s = strings.ToLower(strings.TrimSpace(s))
		if len(s) >= 3 {
			return slices.Index(weekdays, s[:3])
		}
		return -1
	}
	any := false
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			a, b, isRange := strings.Cut(part, "-")
			from, to := day(a), day(a)
			if isRange {
				to = day(b)
			}
			if from < 0 || to < 0 {
				return days, false
			}
			for d := from; ; d = (d + 1) % 7 {
				days[d], any = true, true
				if d == to {
					break
				}
			}
		}
	}
	return days, any
}
