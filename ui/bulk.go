package ui

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"junction/engine"
)

// Bulk actions' guards: the destinations a bulk resend may choose are those of the
// channels the filter covers; each message is resent only to destinations its own
// channel has (and it was routed to); the operator sees how many messages match before a
// job starts; and one filter has at most one job running at a time.

// bulkDest is a destination the message browser's bulk resend offers.
type bulkDest struct {
	Name     string
	Channels string // the channels in scope that have it, when more than one channel is
	Checked  bool
}

// scopeChannels are the channels a filter covers: the one it names, or those having the
// destination it names, or all.
func (s *Server) scopeChannels(f engine.MessageFilter) []*engine.Channel {
	var out []*engine.Channel
	for _, ch := range s.eng.Channels() {
		if f.Channel != "" && ch.Name != f.Channel {
			continue
		}
		if f.Destination != "" && !slices.ContainsFunc(ch.Destinations, func(d *engine.DestinationRuntime) bool { return d.Name == f.Destination }) {
			continue
		}
		out = append(out, ch)
	}
	return out
}

// bulkDestinations lists the destinations of the channels a filter covers, in the order
// of the configuration. With a destination in the filter only that one is checked.
func (s *Server) bulkDestinations(f engine.MessageFilter) []bulkDest {
	chans := s.scopeChannels(f)
	var out []bulkDest
	at := map[string]int{}
	for _, ch := range chans {
		for _, d := range ch.Destinations {
			i, ok := at[d.Name]
			if !ok {
				i = len(out)
				at[d.Name] = i
				out = append(out, bulkDest{Name: d.Name, Checked: f.Destination == "" || f.Destination == d.Name})
			}
			if len(chans) > 1 {
				out[i].Channels = strings.TrimPrefix(out[i].Channels+", "+ch.Name, ", ")
			}
		}
	}
	return out
}

// checkBulkDestinations refuses a chosen destination that no channel in the filter's
// scope has.
func (s *Server) checkBulkDestinations(f engine.MessageFilter, chosen []string) error {
	chans := s.scopeChannels(f)
	for _, name := range chosen {
		found := false
		for _, ch := range chans {
			found = found || slices.ContainsFunc(ch.Destinations, func(d *engine.DestinationRuntime) bool { return d.Name == name })
		}
		if !found {
			where := "no channel the filter covers"
			if f.Channel != "" {
				where = "channel " + f.Channel
			}
			return fmt.Errorf("destinations: no destination is named %q in %s", name, where)
		}
	}
	return nil
}

// resendTargets are the destinations a bulk resend queues a message to: those it was
// routed to (not left out by a destination filter) that its own channel still has; when
// the job chose some, only those; and when the filter names a destination status (the
// Errors view's destination_status=ERROR), only the deliveries in it, so that a resend of
// failed deliveries sends nothing again to the destinations that got the message. A
// destination of the same name in another channel is never one of them. None: the
// message is skipped.
func (s *Server) resendTargets(m engine.MessageSummary, chosen []string, status engine.Status) []string {
	ch := s.eng.Channel(m.Channel)
	if ch == nil {
		return nil
	}
	var out []string
	for _, d := range m.Destinations {
		if d.Status == engine.StatusFiltered || d.Status == engine.StatusError && d.Attempts == 0 {
			continue // its filter left the message out (or failed): reprocess it instead
		}
		if len(chosen) > 0 && !slices.Contains(chosen, d.Name) || status != "" && d.Status != status {
			continue
		}
		if slices.ContainsFunc(ch.Destinations, func(c *engine.DestinationRuntime) bool { return c.Name == d.Name }) {
			out = append(out, d.Name)
		}
	}
	return out
}

// countCap bounds a count: a bulk job takes at most maxJobMessages messages.
const countCap = maxJobMessages

// countMessages counts the messages matching a filter, up to countCap (capped is true
// when there are at least that many), a page of ids at a time.
func (s *Server) countMessages(ctx context.Context, f engine.MessageFilter) (n int, capped bool, err error) {
	f.Limit, f.BeforeID = 1000, 0
	for {
		page, err := s.eng.Store().ListMessages(ctx, f)
		if err != nil {
			return 0, false, err
		}
		n += len(page)
		if n >= countCap {
			return countCap, true, nil
		}
		if len(page) < f.Limit {
			return n, false, nil
		}
		f.BeforeID = page[len(page)-1].ID
	}
}

// countMatching answers GET /api/messages/count: how many messages match a filter (the
// parameters of GET /api/messages), as a bulk job would take them.
func (s *Server) countMatching(w http.ResponseWriter, r *http.Request) {
	f, err := s.parseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, capped, err := s.countMessages(r.Context(), f)
	if err != nil {
		writeOpError(w, fmt.Errorf("cannot count the messages: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "capped": capped, "filter": filterQuery(r.URL.Query()).Encode()})
}

// jobConflict is a job asked for while another one runs on the same filter.
type jobConflict struct{ running JobView }

func (e *jobConflict) Error() string {
	id := strconv.FormatInt(e.running.ID, 10)
	return "job " + id + " (" + e.running.Action + ") is still " + e.running.State + " on this filter: wait for it to finish, or cancel it (POST /api/jobs/" + id + "/cancel), before starting another"
}

// sameFilter says whether two jobs' filters are the same (keys canonical, as stored).
func sameFilter(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// runningOn is the job still collecting or running on a filter, if any. m.mu is held.
func (m *jobManager) runningOn(filter map[string]string) (JobView, bool) {
	for _, j := range m.jobs {
		v := j.view()
		if (v.State == "collecting" || v.State == "running") && sameFilter(v.Filter, filter) {
			return v, true
		}
	}
	return JobView{}, false
}
