package engine

import (
	"context"
	"fmt"
	"log/slog"
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
	w := &queueWorker{e: e, ch: ch, d: d, log: e.Log.With("channel", ch.Name, "destination", d.Name)}
	defer w.finish()
	for ctx.Err() == nil {
		if !w.holdLease(ctx) {
			continue
		}
		if d.paused.Load() {
			// Paused by an operator: keep the lease (so no other node takes the queue) but
			// take no work. A kick (resume) ends the wait at once; a resume on another node
			// is seen at the next lease renewal.
			w.settle()
			w.cursor = 0
			sleep(ctx, nil, d.kick, idlePoll)
			continue
		}
		batch, err := e.store.Pending(ctx, ch.Name, d.Name, w.cursor, batchSize)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("cannot read the queue", "err", err)
			}
			sleep(ctx, nil, nil, errorBackoff)
			continue
		}
		if len(batch) == 0 {
			if !w.settle() {
				continue
			}
			if w.cursor != 0 {
				// Look again from the head: a message before the cursor may have been queued
				// again (a resend) while we worked further down the queue.
				w.cursor = 0
				continue
			}
			sleep(ctx, d.wake, d.kick, idlePoll)
			continue
		}
		results, blockedUntil := w.send(ctx, batch)
		if len(results) > 0 {
			w.settle()
			w.record(results)
		}
		if !blockedUntil.IsZero() {
			// The head waits for its retry; new messages must not overtake it. Its new
			// attempt count and time must be stored before it is read again. An operator's
			// kick (a resend, a pause) ends the wait: read again from the queue's head.
			w.settle()
			if sleep(ctx, nil, d.kick, time.Until(blockedUntil)) {
				w.cursor = 0
			}
		}
	}
}

// queueWorker is the state of one destination queue's worker.
type queueWorker struct {
	e   *Engine
	ch  *Channel
	d   *DestinationRuntime
	log *slog.Logger

	leaseRenew time.Time
	// cursor: messages up to this id are handled; their results may still be on their way
	// to the store, so the next read starts after it.
	cursor int64
	// recording is the one Record in flight: it joins the store's next group commit with
	// the messages being accepted meanwhile, while the worker goes on sending.
	recording chan error
}

// holdLease takes or renews the queue's lease; false (after a pause) when another holds it.
func (w *queueWorker) holdLease(ctx context.Context) bool {
	if time.Now().Before(w.leaseRenew) {
		return true
	}
	ok, err := w.e.store.AcquireQueue(ctx, w.ch.Name, w.d.Name, w.e.Node, leaseTTL)
	if err == nil && !ok {
		ok, err = w.e.takeFromDead(ctx, w.ch, w.d)
	}
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			w.log.Error("cannot take the queue lease", "err", err)
		}
		w.leaseRenew = time.Time{}
		w.cursor = 0
		sleep(ctx, nil, nil, leaseTTL/3)
		return false
	}
	w.leaseRenew = time.Now().Add(leaseTTL / 3)
	// The pause flag lives in the store (it applies on every node): read it with each
	// renewal. A pause or resume made through this engine applies at once (SetPaused).
	if p, err := w.e.store.QueuePaused(ctx, w.ch.Name, w.d.Name); err == nil {
		w.d.paused.Store(p)
	}
	return true
}

// record stores results without waiting; settle waits. The cursor moves past every
// result that is final (SENT or ERROR), up to a retried head.
func (w *queueWorker) record(results []AttemptResult) {
	done := make(chan error, 1)
	w.recording = done
	go func() {
		// Not the worker's ctx: results of sends that happened are stored even on shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- w.e.store.Record(ctx, results)
	}()
	for _, r := range results {
		if r.Status == StatusQueued {
			break
		}
		w.cursor = r.MessageID
		if r.Status == StatusError {
			w.log.Warn("delivery failed", "message", r.MessageID, "attempts", r.Attempts, "err", r.Error)
		}
	}
}

// settle waits for the Record in flight. When it failed, the worker starts again from the
// head of the queue: those messages are still QUEUED and are sent again (at least once).
func (w *queueWorker) settle() bool {
	if w.recording == nil {
		return true
	}
	err := <-w.recording
	w.recording = nil
	if err != nil {
		w.log.Error("cannot record delivery results; the messages will be sent again", "err", err)
		w.cursor = 0
		time.Sleep(errorBackoff)
		return false
	}
	return true
}

func (w *queueWorker) finish() {
	w.settle()
	if !w.leaseRenew.IsZero() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.e.store.ReleaseQueue(ctx, w.ch.Name, w.d.Name, w.e.Node)
	}
}

// send delivers a batch in order. It stops early when the head must wait for a retry
// (returning when), when the lease is due for renewal, or on shutdown.
func (w *queueWorker) send(ctx context.Context, batch []Delivery) (results []AttemptResult, blockedUntil time.Time) {
	results = make([]AttemptResult, 0, len(batch))
	for i := range batch {
		if w.d.paused.Load() {
			break // paused meanwhile: what is sent is recorded, the rest waits
		}
		dl := &batch[i]
		now := time.Now()
		if dl.NextAttempt.After(now) {
			return results, dl.NextAttempt
		}
		if now.After(w.leaseRenew) && len(results) > 0 {
			break // renew the lease before going on
		}
		out := safeSend(ctx, w.d.Dest, dl)
		if ctx.Err() != nil {
			break // shutting down: this attempt does not count, the row stays queued
		}
		r := w.d.classify(dl, out, time.Now())
		results = append(results, r)
		if r.Status == StatusQueued {
			return results, r.NextAttempt
		}
	}
	return results, time.Time{}
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

// safeSend calls a destination, turning a panic (a bug in a connector) into a failed
// attempt instead of a crash: the message stays in the log with the panic as its error.
func safeSend(ctx context.Context, d Destination, dl *Delivery) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = Outcome{Err: fmt.Errorf("destination failed unexpectedly (a bug; please report it): %v", r), Permanent: true}
		}
	}()
	return d.Send(ctx, dl)
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

// sleep waits for d, a wake-up (new messages), a kick (an operator's action), or the end
// of ctx; nil channels never fire. It reports whether it was kicked.
func sleep(ctx context.Context, wake, kick <-chan struct{}, d time.Duration) (kicked bool) {
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-kick:
		return true
	case <-t.C:
	}
	return false
}
