package engine

import (
	"context"
	"sync/atomic"
)

// queueKey names a destination queue: its channel and destination.
type queueKey struct{ channel, destination string }

// queue is a destination queue as it outlives reloads: its worker, the signals that wake
// it, its pause flag, and the destination configuration it delivers with, which Reload
// swaps (the send in progress finishes with the configuration it started with).
type queue struct {
	key    queueKey
	wake   chan struct{} // new messages were queued
	kick   chan struct{} // an operator resent, paused or resumed, or a reload: look again
	paused atomic.Bool   // mirrors the queue's pause flag in the store (SetPaused, holdLease)
	dest   atomic.Pointer[DestinationRuntime]
	cancel context.CancelFunc // ends the worker (the queue is no longer configured)
	done   chan struct{}      // closed when the worker has ended
}

// startQueue starts the worker of d's queue (under reloadMu, after Start made e.ctx).
func (e *Engine) startQueue(d *DestinationRuntime) {
	q := &queue{key: queueKey{d.Channel.Name, d.Name}, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), done: make(chan struct{})}
	q.dest.Store(d)
	d.q = q
	e.queues[q.key] = q
	ctx, cancel := context.WithCancel(e.ctx)
	q.cancel = cancel
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		defer close(q.done)
		e.runWorker(ctx, q)
	}()
}

// signal sends on c without blocking (a signal already pending is enough).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
