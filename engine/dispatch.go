package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"junction/transforms"
)

// Queue worker tuning. The lease is kept in the store so that, with a shared store, a node
// that dies leaves a lease that expires and another node takes the queue over.
const (
	leaseTTL     = 30 * time.Second
	idlePoll     = time.Second // look for work queued by other nodes or past restarts
	batchSize    = 256         // deliveries read from the queue at a time
	errorBackoff = time.Second
	// recordTimeout bounds one Record; a result whose Record failed is recorded again.
	recordTimeout = 30 * time.Second
)

// MaxUnrecorded bounds how many sends of one destination queue may lack a committed
// result, the send in progress included: what a crash, even kill -9, sends again. Results
// go to the store as their sends return (one Record call open at a time; those that come
// meanwhile go together in the next) and join its next group commit; a send starts only
// while fewer than MaxUnrecorded results lack their commit. The window must hold what a
// worker sends while a result waits for its commit, which the accepted messages' fsync
// paces: at concurrency 64 on a shared VM's disk, 16 held delivery up to a fifth below
// acceptance and 32 a few percent; 64 kept up.
const MaxUnrecorded = 64

// runWorker delivers one destination's queue in message order until ctx ends. The head of
// the queue blocks the rest while it is being retried, so order is kept (Mirth's default).
// A reload swaps the queue's destination configuration: the worker takes it up between
// sends and closes the destination it replaces.
func (e *Engine) runWorker(ctx context.Context, q *queue) {
	w := &queueWorker{e: e, q: q}
	w.use(q.take())
	defer w.finish()
	for ctx.Err() == nil {
		if q.stale(w.d) {
			if q.exit() {
				return
			}
			w.use(q.take())
		}
		if !w.holdLease(ctx) || !w.recordFailed(ctx) {
			continue
		}
		if q.paused.Load() || e.channelHeld(w.ch.Name) {
			// Paused (or its channel stopped) by an operator: keep the lease (so no other node takes the queue) but
			// take no work. A kick (resume) ends the wait at once; a resume on another node
			// is seen at the next lease renewal.
			w.settle()
			w.cursor = 0
			sleep(ctx, nil, q.kick, idlePoll)
			continue
		}
		batch, err := e.store.Pending(ctx, w.ch.Name, w.d.Name, w.cursor, batchSize)
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
			sleep(ctx, q.wake, q.kick, idlePoll)
			continue
		}
		if blockedUntil := w.send(ctx, batch); !blockedUntil.IsZero() {
			// The head waits for its retry; new messages must not overtake it. Its new
			// attempt count and time must be stored before it is read again. An operator's
			// kick (a resend, a pause) ends the wait: read again from the queue's head.
			if !w.settle() {
				continue
			}
			if sleep(ctx, nil, q.kick, time.Until(blockedUntil)) {
				w.cursor = 0
			}
		}
	}
}

// use makes d the configuration the worker delivers with, closing the destination of
// the one it replaces (whose sends are over).
func (w *queueWorker) use(d *DestinationRuntime) {
	if w.d != nil && w.d != d && w.d.Dest != d.Dest {
		closeDest(w.d.Dest)
	}
	w.d, w.ch = d, d.Channel
	w.log = w.e.Log.With("channel", w.ch.Name, "destination", d.Name)
}

// queueWorker is the state of one destination queue's worker.
type queueWorker struct {
	e   *Engine
	q   *queue
	ch  *Channel            // w.d's channel
	d   *DestinationRuntime // the configuration it delivers with
	log *slog.Logger

	leaseRenew time.Time
	// cursor: messages up to this id are handled; their results may still be on their way
	// to the store, so the next read starts after it.
	cursor int64
	// Results on their way to the store: inflight in the one Record call this worker has
	// open (its answer comes on done), pending for the next call, made as soon as that one
	// returns. So the results of a commit's worth of sends travel together, in one request.
	inflight, pending []AttemptResult
	done              chan error
	// failed are results the store could not record (a full disk, an I/O error). No
	// message is sent until they are recorded: the sends happened, so they are recorded
	// again rather than sent again.
	failed []AttemptResult
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
		sleep(ctx, nil, w.q.kick, leaseTTL/3)
		return false
	}
	w.leaseRenew = time.Now().Add(leaseTTL / 3)
	// The pause flag lives in the store (it applies on every node): read it with each
	// renewal. A pause or resume made through this engine applies at once (SetPaused).
	if p, err := w.e.store.QueuePaused(ctx, w.ch.Name, w.d.Name); err == nil {
		w.q.paused.Store(p)
	}
	return true
}

// send delivers a batch in order, handing each result to the store as soon as its send
// returns. It stops early when the head must wait for a retry (returning when), when a
// result could not be recorded, when the lease is due for renewal, or on shutdown.
func (w *queueWorker) send(ctx context.Context, batch []Delivery) (blockedUntil time.Time) {
	sent := false
	for i := range batch {
		if w.q.paused.Load() || w.e.channelHeld(w.ch.Name) || w.q.stale(w.d) {
			break // paused (or reloaded) meanwhile: what is sent is recorded, the rest waits
		}
		dl := &batch[i]
		now := time.Now()
		if dl.NextAttempt.After(now) {
			return dl.NextAttempt
		}
		if now.After(w.leaseRenew) && sent {
			break // renew the lease before going on
		}
		if !w.room() {
			break // the store cannot record results: send nothing more
		}
		out, took := w.deliverTimed(ctx, dl)
		if ctx.Err() != nil {
			break // shutting down: this attempt does not count, the row stays queued
		}
		r := w.d.classify(dl, out, time.Now())
		w.observeAttempt(r, took)
		w.record(r)
		sent = true
		if r.Status == StatusQueued {
			return r.NextAttempt
		}
	}
	return time.Time{}
}

// record hands r to the store without waiting: with the results sent before it that
// are not yet on their way, it joins the store's next group commit, beside the messages
// being accepted meanwhile. The cursor moves past a final result (SENT or ERROR); a
// retried head keeps it.
func (w *queueWorker) record(r AttemptResult) {
	w.pending = append(w.pending, r)
	w.reap(false)
	w.flush()
	if r.Status == StatusQueued {
		return
	}
	w.cursor = r.MessageID
	if r.Status == StatusError {
		w.log.Warn("delivery failed", "message", r.MessageID, "attempts", r.Attempts, "err", r.Error)
	}
}

// flush makes the Record call of the pending results, unless one is open already (then
// they go once it returns) or results are failing (then they join the failed ones).
func (w *queueWorker) flush() {
	switch {
	case len(w.pending) == 0 || w.inflight != nil:
	case len(w.failed) > 0:
		w.failed = append(w.failed, w.pending...)
		w.pending = nil
	default:
		if w.done == nil {
			w.done = make(chan error, 1)
		}
		w.inflight, w.pending = w.pending, nil
		go func(results []AttemptResult, done chan<- error) {
			// Not the worker's ctx: results of sends that happened are stored even on shutdown.
			ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
			defer cancel()
			done <- w.e.store.Record(ctx, results)
		}(w.inflight, w.done)
	}
}

// unrecorded is how many sends lack a committed result.
func (w *queueWorker) unrecorded() int { return len(w.inflight) + len(w.pending) }

// room makes room for one more send: while MaxUnrecorded sends lack a committed result,
// it waits for the open Record call and makes the next. It reports whether every result
// so far was recorded; when one was not, nothing more may be sent.
func (w *queueWorker) room() bool {
	w.reap(false)
	for len(w.failed) == 0 && w.unrecorded() >= MaxUnrecorded {
		w.flush()
		w.reap(true)
	}
	w.flush()
	return len(w.failed) == 0
}

// settle waits until every result handed to the store is committed. It reports whether
// all were recorded.
func (w *queueWorker) settle() bool {
	for w.unrecorded() > 0 {
		w.flush()
		w.reap(true)
	}
	return len(w.failed) == 0
}

// reap takes the open Record call's answer, waiting for it when wait is set, and makes
// the next call. Results that could not be recorded join failed.
func (w *queueWorker) reap(wait bool) {
	if w.inflight == nil {
		return
	}
	var err error
	if wait {
		err = <-w.done
	} else {
		select {
		case err = <-w.done:
		default:
			return
		}
	}
	results := w.inflight
	w.inflight = nil
	if err != nil {
		switch {
		case errors.Is(err, ErrNotFound):
			w.log.Warn("delivery results name a message removed meanwhile; recording the others", "err", err)
		case len(w.failed) == 0:
			w.log.Error("cannot record delivery results; no more messages are sent until they are", "err", err)
		}
		w.failed = append(w.failed, results...)
	}
	w.flush()
}

// recordFailed records again the results the store could not record before. It reports
// whether none is left; otherwise it has waited errorBackoff (or until ctx ended).
func (w *queueWorker) recordFailed(ctx context.Context) bool {
	if len(w.failed) == 0 {
		return true
	}
	rctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	err := w.e.store.Record(rctx, w.failed)
	if errors.Is(err, ErrNotFound) {
		// One of them was removed meanwhile: record the others one by one.
		err = nil
		for _, r := range w.failed {
			if e := w.e.store.Record(rctx, []AttemptResult{r}); e != nil && !errors.Is(e, ErrNotFound) {
				err = e
				break
			}
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("cannot record delivery results yet; no more messages are sent until they are", "results", len(w.failed), "err", err)
		}
		sleep(ctx, nil, nil, errorBackoff)
		return false
	}
	w.log.Info("delivery results recorded; sending again", "results", len(w.failed))
	w.failed = w.failed[:0]
	return true
}

func (w *queueWorker) finish() {
	w.settle()
	closeDest(w.d.Dest)
	w.q.mu.Lock()
	next := w.q.next
	w.q.mu.Unlock()
	if next != w.d && next.Dest != w.d.Dest {
		closeDest(next.Dest) // set after the last send: never used
	}
	if len(w.failed) > 0 {
		// One last try; what is still not recorded is sent again after a restart.
		w.recordFailed(context.Background())
	}
	if !w.leaseRenew.IsZero() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.e.store.ReleaseQueue(ctx, w.ch.Name, w.d.Name, w.e.Node)
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

// DestinationSteps are a destination's own scripts, run by its worker: Transforms on its
// copy of the message's content before it is sent, Response once it has answered.
type DestinationSteps struct {
	Transforms []*transforms.Program
	Response   []*transforms.Program
}

// deliver sends one delivery through the destination's steps: its transform steps make
// the content it sends (stored as what it encoded), its response steps judge the
// answer. A step failing fails the delivery for good: sending again cannot change it.
func (d *DestinationRuntime) deliver(ctx context.Context, channel string, dl *Delivery) Outcome {
	st := &d.Steps
	if len(st.Transforms) == 0 && len(st.Response) == 0 {
		return safeSend(ctx, d.Dest, dl)
	}
	msg, err := deliveryMessage(dl)
	if err != nil {
		return Outcome{Err: fmt.Errorf("destination %s steps: %w", d.Name, err), Permanent: true}
	}
	if d.Channel != nil {
		msg.Converter = d.Channel.Converter // toFHIR() with the channel's site settings
	}
	s := transforms.NewSession(msg, channel)
	defer s.Close()
	var transformed []byte
	if len(st.Transforms) > 0 {
		for _, p := range st.Transforms {
			if err := s.Transform(p); err != nil {
				return Outcome{Err: err, Permanent: true}
			}
		}
		if transformed, err = msg.Output(); err != nil {
			return Outcome{Err: err, Permanent: true}
		}
		if transformed != nil {
			own := *dl // the batch's row shares its content with the store: send a copy
			own.Content = transformed
			dl = &own
		}
	}
	out := safeSend(ctx, d.Dest, dl)
	if out.Encoded == nil && transformed != nil {
		out.Encoded = transformed // what this destination made of the message
	}
	if out.Err != nil || len(st.Response) == 0 {
		return out
	}
	s.SetResponse(responseBody(out.Response))
	for _, p := range st.Response {
		if err := s.Transform(p); err != nil {
			out.Err, out.Permanent = err, true
			return out
		}
	}
	return out
}

// responseBody is what response() gives: the body of an HTTP response (destinations log
// the status line and headers before it), any other response as it is.
func responseBody(resp []byte) []byte {
	if bytes.HasPrefix(resp, []byte("HTTP/")) {
		if i := bytes.Index(resp, []byte("\r\n\r\n")); i >= 0 {
			return resp[i+4:]
		}
	}
	return resp
}

// deliveryMessage parses a delivery's content for the destination's steps. Its data type
// is the message's unless a transform changed it: content starting with "MSH" is HL7v2,
// with "{" FHIR (setBody(toFHIR()) turns HL7v2 into FHIR).
func deliveryMessage(dl *Delivery) (*transforms.Message, error) {
	meta, err := dl.Meta()
	if err != nil {
		return nil, err
	}
	dataType := dl.DataType
	head := bytes.TrimLeft(bytes.TrimPrefix(dl.Content, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case bytes.HasPrefix(head, []byte("MSH")):
		dataType = transforms.HL7v2
	case bytes.HasPrefix(head, []byte("{")):
		dataType = transforms.FHIR
	}
	return transforms.Parse(dataType, dl.Content, meta)
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
