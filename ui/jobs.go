package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"junction/engine"
)

// Bulk jobs: resend or reprocess every message matching a filter, in the background.
// The matching ids are collected first (so messages arriving meanwhile, or made by the
// job itself, are not taken), then handled one by one; progress is readable at any time
// and the job can be cancelled. Jobs live in memory: a restart forgets them (what they
// did stays in the store's audit trail).

const (
	maxJobMessages = 100_000 // a job takes at most this many messages
	maxJobsKept    = 50      // finished jobs beyond this are forgotten, oldest first
	maxJobOutcomes = 1000    // failures and created messages listed per job
)

// jobRequest is the body of POST /api/jobs.
type jobRequest struct {
	Action string `json:"action"` // resend or reprocess
	// Filter holds GET /api/messages's filter parameters (channel, status, q, …).
	Filter map[string]string `json:"filter"`
	// Destinations (resend only): resend to these of each message's destinations; empty
	// means all of them.
	Destinations []string `json:"destinations"`
}

// JobView is a job as the API shows it.
type JobView struct {
	ID           int64             `json:"id"`
	Action       string            `json:"action"`
	Filter       map[string]string `json:"filter"`
	Destinations []string          `json:"destinations,omitempty"`
	State        string            `json:"state"` // collecting, running, done, cancelled, failed
	Total        int               `json:"total"` // messages matched
	Done         int               `json:"done"`  // handled so far
	Succeeded    int               `json:"succeeded"`
	Skipped      int               `json:"skipped"` // resend: none of the chosen destinations is the message's to resend
	Failed       int               `json:"failed"`
	Progress     float64           `json:"progress"` // percent of total
	Error        string            `json:"error,omitempty"`
	StartedAt    time.Time         `json:"started_at"`
	FinishedAt   *time.Time        `json:"finished_at,omitempty"`
	Truncated    bool              `json:"truncated,omitempty"` // more than 100,000 matched: the newest were taken
	Failures     []jobOutcome      `json:"failures"`
	Created      []jobOutcome      `json:"created,omitempty"` // reprocess: the new messages
	// Deliveries: what became of the deliveries the job queued (resend) or made
	// (reprocess), followed until none is queued any more.
	Deliveries DeliveryOutcome `json:"deliveries"`
}

type jobOutcome struct {
	MessageID int64  `json:"message_id"`
	NewID     int64  `json:"new_id,omitempty"`
	Status    string `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

type job struct {
	mu     sync.Mutex
	v      JobView
	stop   context.CancelFunc
	filter engine.MessageFilter
	by     string
	// followed are the deliveries queued or made, until they settle (jobfollow.go).
	followed []followed
}

func (j *job) view() JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := j.v
	v.Failures = slices.Clone(v.Failures)
	v.Created = slices.Clone(v.Created)
	if v.Failures == nil {
		v.Failures = []jobOutcome{}
	}
	return v
}

func (j *job) cancel() { j.stop() }

func (j *job) update(f func(v *JobView)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(&j.v)
	if j.v.Total > 0 {
		j.v.Progress = float64(j.v.Done) * 100 / float64(j.v.Total)
	} else if j.v.State != "collecting" && j.v.State != "running" {
		j.v.Progress = 100
	}
}

type jobManager struct {
	s    *Server
	mu   sync.Mutex
	next int64
	jobs []*job // oldest first
}

func newJobManager(s *Server) *jobManager { return &jobManager{s: s} }

func (m *jobManager) get(id int64) *job {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.v.ID == id {
			return j
		}
	}
	return nil
}

// list returns the jobs, newest first.
func (m *jobManager) list() []JobView {
	m.mu.Lock()
	jobs := slices.Clone(m.jobs)
	m.mu.Unlock()
	out := make([]JobView, 0, len(jobs))
	for i := len(jobs) - 1; i >= 0; i-- {
		v := jobs[i].view()
		v.Failures, v.Created = nil, nil // the list stays small; GET /api/jobs/{id} has them
		out = append(out, v)
	}
	return out
}

// start checks a job request and starts it.
func (m *jobManager) start(req jobRequest, by string) (JobView, error) {
	if req.Action != "resend" && req.Action != "reprocess" {
		return JobView{}, fmt.Errorf("action: expected resend or reprocess, got %q", req.Action)
	}
	q := url.Values{}
	for k, v := range req.Filter {
		key := k
		if a, ok := filterAliases[k]; ok {
			key = a
		}
		if !slices.Contains(filterKeys, key) && !strings.HasPrefix(key, columnParam) { // columnParam: columns.go
			return JobView{}, fmt.Errorf("filter: unknown key %q (expected any of %v, or col.NAME)", k, filterKeys)
		}
		q.Set(key, v)
	}
	f, err := m.s.parseFilter(q)
	if err != nil {
		return JobView{}, fmt.Errorf("filter.%w", err)
	}
	if req.Action == "reprocess" && len(req.Destinations) > 0 {
		return JobView{}, errors.New("destinations: only a resend job takes destinations")
	}
	if err := m.s.checkBulkDestinations(f, req.Destinations); err != nil {
		return JobView{}, err
	}
	filter := map[string]string{} // canonical: two requests for one filter are equal (bulk.go)
	for k, v := range filterQuery(q) {
		filter[k] = v[0]
	}
	m.mu.Lock()
	if running, ok := m.runningOn(filter); ok {
		m.mu.Unlock()
		return JobView{}, &jobConflict{running: running}
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{stop: cancel, filter: f, by: by}
	m.next++
	j.v = JobView{ID: m.next, Action: req.Action, Filter: filter, Destinations: req.Destinations,
		State: "collecting", StartedAt: time.Now().UTC()}
	m.jobs = append(m.jobs, j)
	m.trim()
	m.mu.Unlock()
	go m.run(ctx, j)
	return j.view(), nil
}

// trim forgets the oldest finished jobs beyond maxJobsKept. m.mu is held.
func (m *jobManager) trim() {
	for len(m.jobs) > maxJobsKept {
		i := slices.IndexFunc(m.jobs, func(j *job) bool {
			v := j.view()
			return v.FinishedAt != nil
		})
		if i < 0 {
			return
		}
		m.jobs = slices.Delete(m.jobs, i, i+1)
	}
}

func (m *jobManager) run(ctx context.Context, j *job) {
	defer j.stop()
	v0 := j.view() // ID, Action and Destinations do not change
	action, chosen := v0.Action, v0.Destinations
	finish := func(state, errText string) {
		now := time.Now().UTC()
		j.update(func(v *JobView) {
			v.State, v.Error, v.FinishedAt = state, errText, &now
		})
		go m.s.followDeliveries(j)
	}
	// Collect the matching messages first: the job works on what matched when it started.
	type item struct {
		id    int64
		dests []string // resend: the destinations to queue it to (resendTargets)
	}
	var items []item
	f := j.filter
	f.Limit, f.BeforeID = 1000, 0
	for {
		if ctx.Err() != nil {
			finish("cancelled", "")
			return
		}
		page, err := m.s.eng.Store().ListMessages(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				finish("cancelled", "")
			} else {
				finish("failed", "cannot list the messages: "+err.Error())
			}
			return
		}
		for _, msg := range page {
			it := item{id: msg.ID}
			if action == "resend" {
				it.dests = m.s.resendTargets(msg, chosen, resendStatus(j.filter))
			}
			items = append(items, it)
		}
		if len(items) >= maxJobMessages {
			items = items[:maxJobMessages]
			j.update(func(v *JobView) { v.Truncated = true })
			break
		}
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	// Oldest first, as they arrived.
	slices.Reverse(items)
	j.update(func(v *JobView) { v.Total, v.State = len(items), "running" })
	note := "bulk job " + strconv.FormatInt(v0.ID, 10) + " " + j.by
	for _, it := range items {
		if ctx.Err() != nil {
			finish("cancelled", "")
			return
		}
		var out jobOutcome
		var err error
		skipped := false
		switch action {
		case "resend":
			skipped = len(it.dests) == 0
			if !skipped {
				var names []string
				names, err = m.s.eng.Resend(ctx, it.id, it.dests, nil, note)
				if err == nil {
					j.follow(it.id, names)
				}
			}
		case "reprocess":
			var res engine.Result
			res, err = m.s.eng.Reprocess(ctx, it.id, nil, note)
			if err == nil {
				out = jobOutcome{MessageID: it.id, NewID: res.MessageID, Status: string(res.Status)}
				j.follow(res.MessageID, nil)
			}
		}
		if err != nil && ctx.Err() != nil {
			finish("cancelled", "")
			return
		}
		j.update(func(v *JobView) {
			v.Done++
			switch {
			case skipped:
				v.Skipped++
			case err != nil:
				v.Failed++
				if len(v.Failures) < maxJobOutcomes {
					v.Failures = append(v.Failures, jobOutcome{MessageID: it.id, Error: err.Error()})
				}
			default:
				v.Succeeded++
				if out.NewID != 0 && len(v.Created) < maxJobOutcomes {
					v.Created = append(v.Created, out)
				}
			}
		})
	}
	finish("done", "")
}
