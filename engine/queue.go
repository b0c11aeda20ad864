package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// queueKey names a destination queue: its channel and destination.
type queueKey struct{ channel, destination string }

// queue is a destination queue as it outlives reloads: its worker, the signals that wake
// it, its pause flag, and the destination configuration it delivers with, which a reload
// swaps (the send in progress finishes with the configuration it started with).
type queue struct {
	key    queueKey
	wake   chan struct{} // new messages were queued
	kick   chan struct{} // an operator resent, paused or resumed, or a reload: look again
	paused atomic.Bool   // mirrors the queue's pause flag in the store (SetPaused, holdLease)
	done   chan struct{} // closed when the worker has ended

	mu      sync.Mutex
	next    *DestinationRuntime // the configuration to deliver with
	using   *DestinationRuntime // the one the worker delivers with (nil before it starts)
	retired bool                // the queue is no longer configured: the worker ends
	exited  bool                // the worker saw retired and ended (or is ending)
}

// startQueue starts the worker of d's queue (under reloadMu, after Start made e.ctx).
func (e *Engine) startQueue(d *DestinationRuntime) {
	q := &queue{key: queueKey{d.Channel.Name, d.Name}, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), done: make(chan struct{}), next: d}
	d.q = q
	e.queues[q.key] = q
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		defer close(q.done)
		e.runWorker(e.ctx, q)
	}()
}

// set makes d the configuration the worker delivers with from its next send; a
// configuration set before and never taken up is closed.
func (q *queue) set(d *DestinationRuntime) {
	q.mu.Lock()
	prev := q.next
	q.next, q.retired = d, false
	unused := prev != d && prev != q.using // the worker can no longer take it
	q.mu.Unlock()
	if unused {
		closeDest(prev.Dest)
	}
	signal(q.kick)
}

// take is the configuration the worker is to deliver with now, recorded as in use.
func (q *queue) take() *DestinationRuntime {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.using = q.next
	return q.using
}

// stale tells the worker, between sends, that a reload gave it another configuration
// or retired the queue.
func (q *queue) stale(d *DestinationRuntime) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next != d || q.retired
}

// retire ends the worker after its send in progress; its messages stay queued.
func (q *queue) retire() {
	q.mu.Lock()
	q.retired = true
	q.mu.Unlock()
	signal(q.kick)
}

// exit reports whether the worker must end (the queue is retired), marking it ended, so
// that a reload configuring the queue again starts a new worker rather than reviving it.
func (q *queue) exit() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.retired {
		q.exited = true
	}
	return q.exited
}

// revive configures a retired queue again while its worker still runs: true when the
// worker goes on with d; false when it has ended (or is ending), and a new one is needed.
func (q *queue) revive(d *DestinationRuntime) bool {
	q.mu.Lock()
	ok := !q.exited
	q.mu.Unlock()
	if ok {
		q.set(d)
	}
	return ok
}

// holds tells whether d is the queue's configuration (set or in use).
func (q *queue) holds(d *DestinationRuntime) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next == d || q.using == d
}

// signal sends on c without blocking (a signal already pending is enough).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// waitDone waits for the worker to end, or ctx.
func (q *queue) waitDone(ctx context.Context) {
	select {
	case <-q.done:
	case <-ctx.Done():
	}
}
