package engine

import (
	"context"
	"fmt"
	"time"
)

// Queue worker tuning. The lease is kept in the store so that, with a shared store, a node
// that dies leaves a lease that expires and another node takes the queue over.
const (
	leaseTTL     = 30 * time.Second
	idlePoll     = time.Second // look for work queued by other nodes or past restarts
	batchSize    = 256
	errorBackoff = time.Second
)

// runWorker delivers one destination's queue in message order until ctx ends. The head of
// the queue blocks the rest while it is being retried, so order is kept (Mirth's default).
func (e *Engine) runWorker(ctx context.Context, ch *Channel, d *DestinationRuntime) {
	log := e.Log.With("channel", ch.Name, "destination", d.Name)
	var leaseRenew time.Time
	defer func() {
		if !leaseRenew.IsZero() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = e.store.ReleaseQueue(rctx, ch.Name, d.Name, e.Node)
		}
	}()
	for ctx.Err() == nil {
		if time.Now().After(leaseRenew) {
			ok, err := e.store.AcquireQueue(ctx, ch.Name, d.Name, e.Node, leaseTTL)
			if err == nil && !ok {
				ok, err = e.takeFromDead(ctx, ch, d)
			}
			if err != nil || !ok {
				if err != nil && ctx.Err() == nil {
					log.Error("cannot take the queue lease", "err", err)
				}
				leaseRenew = time.Time{}
				sleep(ctx, nil, leaseTTL/3)
				continue
			}
			leaseRenew = time.Now().Add(leaseTTL / 3)
		}
		batch, err := e.store.Pending(ctx, ch.Name, d.Name, 0, batchSize)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("cannot read the queue", "err", err)
			}
			sleep(ctx, nil, errorBackoff)
			continue
		}
		if len(batch) == 0 {
			sleep(ctx, d.wake, idlePoll)
			continue
		}
		blockedUntil := e.deliver(ctx, d, batch, leaseRenew)
		if !blockedUntil.IsZero() {
			// The head waits for its retry; new messages must not overtake it.
			sleep(ctx, nil, time.Until(blockedUntil))
		}
	}
}

// takeFromDead takes a queue whose lease is held by a crashed process of this host.
func (e *Engine) takeFromDead(ctx context.Context, ch *Channel, d *DestinationRuntime) (bool, error) {
	holder, _, err := e.store.QueueHolder(ctx, ch.Name, d.Name)
	if err != nil || !deadLocalHolder(holder) {
		return false, err
	}
	ok, err := e.store.TakeQueue(ctx, ch.Name, d.Name, holder, e.Node, leaseTTL)
	if ok {
		e.Log.Warn("took the queue over from a process that ended without releasing it", "channel", ch.Name, "destination", d.Name, "from", holder)
	}
	return ok, err
}

// deliver sends a batch in order and records the results in one store write. It returns
// when the head of the queue must wait for a retry (zero when the batch went through).
func (e *Engine) deliver(ctx context.Context, d *DestinationRuntime, batch []Delivery, leaseRenew time.Time) (blockedUntil time.Time) {
	results := make([]AttemptResult, 0, len(batch))
	for i := range batch {
		dl := &batch[i]
		now := time.Now()
		if dl.NextAttempt.After(now) {
			blockedUntil = dl.NextAttempt
			break
		}
		if now.After(leaseRenew) && len(results) > 0 {
			break // record what we have, then renew the lease before going on
		}
		out := d.Dest.Send(ctx, dl)
		if ctx.Err() != nil {
			break // shutting down: this attempt does not count, the row stays queued
		}
		r := d.classify(dl, out, time.Now())
		results = append(results, r)
		if r.Status == StatusQueued {
			blockedUntil = r.NextAttempt
			break
		}
	}
	if len(results) == 0 {
		return blockedUntil
	}
	// Record even while shutting down: the sends happened.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.store.Record(rctx, results); err != nil {
		e.Log.Error("cannot record delivery results; they will be sent again", "channel", d.Channel.Name, "destination", d.Name, "err", err)
		return time.Now().Add(errorBackoff)
	}
	for _, r := range results {
		if r.Status == StatusError {
			e.Log.Warn("delivery failed", "channel", d.Channel.Name, "destination", d.Name, "message", r.MessageID, "attempts", r.Attempts, "err", r.Error)
		}
	}
	return blockedUntil
}

// classify turns a send outcome into the row's next state under the retry policy.
func (d *DestinationRuntime) classify(dl *Delivery, out Outcome, now time.Time) AttemptResult {
	r := AttemptResult{
		MessageID:   dl.MessageID,
		Destination: d.Name,
		Attempts:    dl.Attempts + 1,
		Encoded:     out.Encoded,
		Sent:        out.Sent,
		Response:    out.Response,
		At:          now,
	}
	switch {
	case out.Err == nil:
		r.Status = StatusSent
	case out.Permanent:
		r.Status, r.Error = StatusError, out.Err.Error()
	case d.Retry.Attempts > 0 && r.Attempts >= d.Retry.Attempts:
		r.Status = StatusError
		r.Error = fmt.Sprintf("gave up after %d attempts: %v", r.Attempts, out.Err)
	default:
		wait := d.Retry.Delay(r.Attempts)
		if out.RetryAfter > 0 {
			wait = min(out.RetryAfter, max(d.Retry.MaxBackoff, wait))
		}
		r.Status, r.Error, r.NextAttempt = StatusQueued, out.Err.Error(), now.Add(wait)
	}
	return r
}

// sleep waits for d, a wake-up, or the end of ctx.
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}
