package sqlite

import (
	"fmt"

	"junction/engine"
)

// The counters Stats reads (queues.queued/sent/error/filtered, channels.received/
// filtered/errored): each operation adds its changes to the transaction's deltas, applied
// once at its end, so they move in the same transaction as the rows they count.

// queueKey names a destination queue.
type queueKey struct{ channel, destination string }

type queueCounts struct{ queued, sent, errored, filtered int64 }

func (c *queueCounts) add(status string, n int64) {
	switch status {
	case string(engine.StatusQueued):
		c.queued += n
	case string(engine.StatusSent):
		c.sent += n
	case string(engine.StatusError):
		c.errored += n
	case string(engine.StatusFiltered):
		c.filtered += n
	}
}

type channelCounts struct{ received, filtered, errored int64 }

// lastError is a queue's most recent failed attempt in the current transaction.
type lastError struct {
	text    string
	at, msg int64
}

func (w *writer) qCounts(queueID int64) *queueCounts {
	c := w.qDelta[queueID]
	if c == nil {
		c = &queueCounts{}
		w.qDelta[queueID] = c
	}
	return c
}

// applyCounters adds the batch's counter deltas.
func (w *writer) applyCounters() error {
	for name, c := range w.chanDelta {
		if _, err := w.addChannel.Exec(name, c.received, c.filtered, c.errored); err != nil {
			return fmt.Errorf("sqlite: counters: %w", err)
		}
	}
	for id, c := range w.qDelta {
		if c.queued == 0 && c.sent == 0 && c.errored == 0 && c.filtered == 0 {
			continue
		}
		if _, err := w.addQueue.Exec(c.queued, c.sent, c.errored, c.filtered, id); err != nil {
			return fmt.Errorf("sqlite: counters: %w", err)
		}
	}
	for id, le := range w.lastErr {
		if _, err := w.setLastError.Exec(le.text, le.at, le.msg, id); err != nil {
			return fmt.Errorf("sqlite: last error: %w", err)
		}
	}
	return nil
}
