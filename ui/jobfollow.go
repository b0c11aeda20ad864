package ui

import (
	"context"
	"errors"
	"slices"
	"time"

	"junction/engine"
)

// What a bulk job did, beyond re-queuing: the deliveries it queued again (resend) or that
// its new messages got (reprocess) are followed in the store until none is queued any
// more, and counted by status: sent, failed (ERROR: every attempt failed), filtered (a
// destination filter left a reprocessed message out), still queued, and gone (the
// message was removed meanwhile). The job's view shows the counts as they stand. Only
// the deliveries not yet settled are read again, a batch at a time, less and less often.

// DeliveryOutcome counts the deliveries a job queued or made, by status.
type DeliveryOutcome struct {
	Followed  int        `json:"followed"` // deliveries the job queued (resend) or made (reprocess)
	Queued    int        `json:"queued"`   // still queued (retrying, or not yet tried)
	Sent      int        `json:"sent"`
	Failed    int        `json:"failed"`             // ERROR: every attempt failed
	Filtered  int        `json:"filtered,omitempty"` // reprocess: left out by a destination filter
	Gone      int        `json:"gone,omitempty"`     // the message was removed meanwhile
	Settled   bool       `json:"settled"`            // nothing queued any more (or the job queued nothing)
	CheckedAt *time.Time `json:"checked_at,omitempty"`
	Error     string     `json:"error,omitempty"` // the store could not be read: the counts stopped there
}

// followed is one message whose deliveries a job follows.
type followed struct {
	id    int64
	dests []string // the deliveries resent; nil: all of the message's (reprocess)
}

const (
	followBatch    = 500              // messages read per transaction
	followFirst    = time.Second      // the first look, then twice as long each time…
	followMaxEvery = 30 * time.Second // …up to this
	followFor      = 24 * time.Hour   // then the counts stand as they are
	followErrors   = 3                // consecutive failed reads that end the following
)

// follow notes deliveries the job has queued: the message's dests, or all of its own.
func (j *job) follow(id int64, dests []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.followed = append(j.followed, followed{id: id, dests: dests})
	if dests != nil {
		j.v.Deliveries.Followed += len(dests)
		j.v.Deliveries.Queued += len(dests)
	}
}

// followDeliveries follows a finished job's deliveries until they settle.
func (s *Server) followDeliveries(j *job) {
	reader := s.eng.Store()
	j.mu.Lock()
	pending := j.followed
	j.followed = nil
	j.mu.Unlock()
	var settled DeliveryOutcome // the counts of the deliveries that have settled
	every, deadline, failures := followFirst, time.Now().Add(followFor), 0
	for {
		live, still, err := s.countDeliveries(reader, pending, &settled)
		now := time.Now().UTC()
		if err != nil {
			failures++
			if failures >= followErrors || errors.Is(err, engine.ErrStoreClosed) {
				j.update(func(v *JobView) { v.Deliveries.Error = "cannot read the deliveries: " + err.Error() })
				return
			}
		} else {
			failures, pending = 0, still
			out := addOutcome(settled, live)
			out.Settled, out.CheckedAt = len(pending) == 0, &now
			j.update(func(v *JobView) { v.Deliveries = out })
			if out.Settled {
				return
			}
		}
		if now.After(deadline) {
			return
		}
		time.Sleep(every)
		every = min(2*every, followMaxEvery)
	}
}

// countDeliveries reads the pending messages' deliveries a batch at a time: a message
// none of whose followed deliveries is queued is settled (counted into settled), the
// others are counted into live and returned as still pending.
func (s *Server) countDeliveries(reader engine.MessageLog, pending []followed, settled *DeliveryOutcome) (live DeliveryOutcome, still []followed, err error) {
	for start := 0; start < len(pending); start += followBatch {
		batch := pending[start:min(start+followBatch, len(pending))]
		ids := make([]int64, len(batch))
		for i, f := range batch {
			ids[i] = f.id
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		states, err := reader.DeliveryStates(ctx, ids)
		cancel()
		if err != nil {
			return live, pending, err
		}
		for _, f := range batch {
			var c DeliveryOutcome
			ds, exists := states[f.id]
			if !exists && f.dests != nil {
				c.Followed, c.Gone = len(f.dests), len(f.dests)
			}
			for _, d := range ds {
				if f.dests != nil && !slices.Contains(f.dests, d.Name) {
					continue
				}
				c.Followed++
				switch d.Status {
				case engine.StatusQueued:
					c.Queued++
				case engine.StatusSent:
					c.Sent++
				case engine.StatusFiltered:
					c.Filtered++
				default:
					c.Failed++
				}
			}
			if c.Queued > 0 {
				live = addOutcome(live, c)
				still = append(still, f)
			} else {
				*settled = addOutcome(*settled, c)
			}
		}
	}
	return live, still, nil
}

func addOutcome(a, b DeliveryOutcome) DeliveryOutcome {
	a.Followed += b.Followed
	a.Queued += b.Queued
	a.Sent += b.Sent
	a.Failed += b.Failed
	a.Filtered += b.Filtered
	a.Gone += b.Gone
	return a
}
