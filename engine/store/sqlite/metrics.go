package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"junction/engine"
)

// What the store tells the engine's metrics (engine/metrics.go): each commit of the writer
// as it happens (SetCommitObserver), and the age of each queue's head when asked.

// CommitObserver is told of each transaction the writer commits: how long it took (begin
// to commit), how many requests it held and whether it waited for an fsync
// (synchronous=FULL: it held accepted messages). It runs on the writer goroutine, so it
// must return at once (a Prometheus histogram's Observe does).
type CommitObserver func(took time.Duration, requests int, fsync bool)

// SetCommitObserver sets (or, with nil, removes) the observer of the writer's commits. The
// search indexer's own transactions are not reported.
func (s *Store) SetCommitObserver(f CommitObserver) {
	if f == nil {
		s.commitObs.Store(nil)
		return
	}
	s.commitObs.Store(&f)
}

// observeCommit reports a transaction begun at start holding live, once it has ended,
// unless it failed (*err). It is deferred by transact, so start is the time of the call.
func (s *Store) observeCommit(start time.Time, live []*request, err *error) {
	f := s.commitObs.Load()
	if f == nil || *err != nil {
		return
	}
	// setSync: a batch with accepted messages commits synchronous=FULL.
	(*f)(time.Since(start), len(live), slices.ContainsFunc(live, isAccept))
}

// oldestQueuedSQL finds, per queue, its head (the QUEUED delivery with the lowest id:
// one probe of the deliveries_outbox partial index) and when its message was received.
const oldestQueuedSQL = `
	SELECT q.channel, q.destination,
	       (SELECT m.received_at FROM deliveries d JOIN messages m ON m.id = d.id >> 8
	        WHERE d.queue_id = q.id AND d.status = 'QUEUED' ORDER BY d.id LIMIT 1)
	FROM queues q WHERE q.queued > 0`

// OldestQueued implements engine.QueueAger. The head of a queue is its oldest message
// (queues deliver in message order), so this reads one index entry per queue. A message
// sent again by an operator counts from when it was first received.
func (s *Store) OldestQueued(ctx context.Context) ([]engine.QueueAge, error) {
	if s.shut.Load() {
		return nil, engine.ErrStoreClosed
	}
	rows, err := s.rdb.QueryContext(ctx, oldestQueuedSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: OldestQueued: %w", err)
	}
	defer rows.Close()
	var out []engine.QueueAge
	for rows.Next() {
		var a engine.QueueAge
		var at *int64
		if err := rows.Scan(&a.Channel, &a.Destination, &at); err != nil {
			return nil, fmt.Errorf("sqlite: OldestQueued: %w", err)
		}
		if at == nil {
			continue // the counter said queued, the rows say none: nothing to report
		}
		a.Oldest = fromNanos(*at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: OldestQueued: %w", err)
	}
	return out, nil
}
