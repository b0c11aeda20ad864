package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/engine"
)

// The writer: one goroutine owns the only write connection and commits whatever is
// pending in one transaction (group commit). Each kind of write is an operation in a file
// of its own (accept.go, record.go, lease.go, resend.go, ops.go, index.go); the writer
// only batches them, runs them in their transaction and answers their callers.

// Under load (the previous batch had lingerFrom requests or more), the writer waits up to
// lingerFor for more requests before committing, as PostgreSQL's commit_delay does.
var lingerFrom, lingerFor = 4, 200 * time.Microsecond

// operation is one kind of write: its payload, prepared (validated, converted, copied) by
// the caller's goroutine before it is queued, so the writer only runs SQL and the caller
// may reuse its buffers even if it stops waiting; and its answer, valid once the request
// is done. apply runs it inside the batch's transaction: it must fail before writing
// (itemErr) or undo its own writes, and report a failure that left the transaction in an
// unknown state as fatal. Delivery results (*recordOp) are applied together, after the
// others (record.go); a checkpoint (*checkpointOp) and the indexer's batches (*indexOp)
// run outside the batch's transaction.
type operation interface {
	apply(w *writer) (itemErr, fatal error)
}

// request is one caller's operation queued for the writer.
type request struct {
	ctx context.Context
	op  operation
	// answered: done was closed before the rest of the batch was committed.
	answered bool
	err      error
	done     chan struct{}
}

// isAccept tells whether r accepts a message (its batch then commits with an fsync).
func isAccept(r *request) bool { _, ok := r.op.(*acceptOp); return ok }

// isRecord tells whether r records delivery results.
func isRecord(r *request) bool { _, ok := r.op.(*recordOp); return ok }

// submit queues r for the writer and waits for its answer. Once r is queued it will be
// either committed or not as a whole; if ctx ends first the caller stops waiting and gets
// ctx.Err() without knowing which.
func (s *Store) submit(ctx context.Context, r *request) error {
	r.ctx = ctx
	r.done = make(chan struct{})
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return engine.ErrStoreClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	return s.await(ctx, r)
}

// submitIdle hands r to the writer through its low-priority channel, which the writer
// reads only when no other request is waiting. It gives up (returning false, nothing
// queued) after patience; the caller may then use submit.
func (s *Store) submitIdle(ctx context.Context, r *request, patience time.Duration) (bool, error) {
	r.ctx = ctx
	r.done = make(chan struct{})
	t := time.NewTimer(patience)
	defer t.Stop()
	select {
	case s.idle <- r:
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return true, s.await(ctx, r)
}

// await waits for the writer's answer to a queued request.
func (s *Store) await(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		select {
		case <-r.done: // answered meanwhile: report the outcome, not the cancellation
			return r.err
		default:
			return ctx.Err()
		}
	}
}

// writer owns the write connection. Its fields are used only by its goroutine.
type writer struct {
	s    *Store
	conn *sql.Conn

	begin, commit, rollback               *sql.Stmt
	insMsg, insDel, delMsg, delDels       *sql.Stmt
	insContent, delContent                *sql.Stmt
	loadDels, updDel, setStatus           *sql.Stmt
	setStatuses                           *sql.Stmt
	insQueue, findQueue, acquire, release *sql.Stmt
	take                                  *sql.Stmt
	addChannel, addQueue                  *sql.Stmt
	msgChannel, requeue, insEvent, pause  *sql.Stmt
	setLastError, insSearch               *sql.Stmt
	indexedTo, setIndexedTo               *sql.Stmt
	insColumn                             *sql.Stmt // columns.go

	queues    map[queueKey]int64 // committed queue ids
	txQueues  map[queueKey]int64 // queue ids resolved in the current transaction
	chanDelta map[string]*channelCounts
	qDelta    map[int64]*queueCounts
	lastErr   map[int64]lastError
	batch     []*request
	// syncFull is the connection's synchronous setting: FULL while a batch holds an Accept
	// (an acknowledged message must survive power loss), NORMAL for batches of delivery
	// results and leases only, whose loss at worst means a message is delivered again.
	syncFull bool
	// lastBatch is the size of the previous batch: under load the writer lingers briefly
	// for more work, so one fsync serves more messages.
	lastBatch int
	// idleTimer measures the quiet time before the writer takes background work (next).
	idleTimer *time.Timer

	// hook, when set (by tests, before the first request), injects failures: it is called
	// with stage "delivery" before an Accept's delivery inserts (an error is treated as a
	// failed insert) and "applied" after any request ran (an error is treated as one that
	// left the transaction unusable).
	hook func(op operation, stage string) error
}

func newWriter(s *Store) (*writer, error) {
	w := &writer{
		s:         s,
		syncFull:  true,
		conn:      s.wconn,
		queues:    map[queueKey]int64{},
		txQueues:  map[queueKey]int64{},
		chanDelta: map[string]*channelCounts{},
		qDelta:    map[int64]*queueCounts{},
		lastErr:   map[int64]lastError{},
	}
	ctx := context.Background()
	prep := []struct {
		p   **sql.Stmt
		sql string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.insMsg, `INSERT INTO messages (channel, status, received_at, data_type, control_id,
			source_domain, org_code, original_id, dedup_key, error, meta, warnings)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.insContent, `INSERT INTO contents (message_id, raw, transformed, warnings) VALUES (?, ?, ?, ?)`},
		{&w.insColumn, insColumnSQL},
		{&w.insDel, `INSERT INTO deliveries (id, queue_id, status, updated_at, last_error) VALUES (?, ?, ?, ?, ?)`},
		{&w.delMsg, `DELETE FROM messages WHERE id = ?`},
		{&w.delContent, `DELETE FROM contents WHERE message_id = ?`},
		{&w.delDels, `DELETE FROM deliveries WHERE id BETWEEN ? AND ?`},
		{&w.loadDels, `SELECT d.id, d.queue_id, d.status, q.destination
			FROM deliveries d JOIN queues q ON q.id = d.queue_id WHERE d.id BETWEEN ? AND ?`},
		{&w.updDel, `UPDATE deliveries SET status = ?, attempts = ?, next_attempt = ?, last_error = ?,
			encoded = ?, sent = ?, response = ?, updated_at = ? WHERE id = ?`},
		{&w.setStatus, `UPDATE messages SET status = ?1 WHERE id = ?2 AND status <> ?1`},
		{&w.setStatuses, setStatusesSQL},
		{&w.insQueue, `INSERT INTO queues (channel, destination) VALUES (?, ?) ON CONFLICT DO NOTHING`},
		{&w.findQueue, `SELECT id FROM queues WHERE channel = ? AND destination = ?`},
		{&w.acquire, `INSERT INTO queues (channel, destination, lease_owner, lease_until) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (channel, destination) DO UPDATE
			SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE lease_owner = excluded.lease_owner OR lease_owner = '' OR lease_until <= ?5`},
		{&w.take, `UPDATE queues SET lease_owner = ?, lease_until = ?
			WHERE channel = ? AND destination = ? AND lease_owner = ?`},
		{&w.release, `UPDATE queues SET lease_owner = '', lease_until = 0
			WHERE channel = ? AND destination = ? AND lease_owner = ?`},
		{&w.addChannel, `INSERT INTO channels (name, received, filtered, errored) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET received = received + excluded.received,
			filtered = filtered + excluded.filtered, errored = errored + excluded.errored`},
		{&w.addQueue, `UPDATE queues SET queued = queued + ?, sent = sent + ?, error = error + ?, filtered = filtered + ? WHERE id = ?`},
		{&w.msgChannel, `SELECT channel FROM messages WHERE id = ?`},
		{&w.requeue, `UPDATE deliveries SET status = 'QUEUED', next_attempt = ?, content = ?, updated_at = ? WHERE id = ?`},
		{&w.insEvent, `INSERT INTO events (at, message_id, channel, destination, kind, detail) VALUES (?, ?, ?, ?, ?, ?)`},
		{&w.pause, `INSERT INTO queues (channel, destination, paused) VALUES (?, ?, ?)
			ON CONFLICT (channel, destination) DO UPDATE SET paused = excluded.paused`},
		{&w.setLastError, `UPDATE queues SET last_error = ?, last_error_at = ?, last_error_message = ? WHERE id = ?`},
		{&w.insSearch, `INSERT INTO search (docid, body) VALUES (?, ?)`},
		{&w.indexedTo, `SELECT indexed_to FROM search_state WHERE id = 1`},
		{&w.setIndexedTo, `UPDATE search_state SET indexed_to = ? WHERE id = 1`},
	}
	for _, p := range prep {
		st, err := w.conn.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.p = st
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback,
		w.insMsg, w.insContent, w.insColumn, w.delContent, w.insDel, w.delMsg, w.delDels, w.loadDels, w.updDel, w.setStatus, w.setStatuses,
		w.insQueue, w.findQueue, w.acquire, w.take, w.release, w.addChannel, w.addQueue,
		w.msgChannel, w.requeue, w.insEvent, w.pause, w.setLastError, w.insSearch, w.indexedTo, w.setIndexedTo} {
		if st != nil {
			st.Close()
		}
	}
}

// run is the writer goroutine: take everything pending (up to MaxBatch), commit it in one
// transaction, answer, repeat; exit once reqs is closed and drained.
func (w *writer) run() {
	defer close(w.s.writerDone)
	defer w.close()
	max := w.s.opts.MaxBatch
	for {
		r, ok := w.next()
		if !ok {
			return
		}
		if _, ok := r.op.(*indexOp); ok {
			// Background work, taken only when nothing else waited: alone, in its own
			// transaction.
			w.process([]*request{r})
			continue
		}
		batch := append(w.batch[:0], r)
		var linger <-chan time.Time
		if w.lastBatch >= lingerFrom {
			linger = time.After(lingerFor)
		}
	fill:
		for len(batch) < max {
			select {
			case r, ok := <-w.s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				if linger == nil {
					break fill
				}
				select {
				case r, ok := <-w.s.reqs:
					if !ok {
						break fill
					}
					batch = append(batch, r)
				case <-linger:
					break fill
				}
			}
		}
		w.lastBatch = len(batch)
		w.process(batch)
		clear(batch)
		w.batch = batch[:0]
	}
}

// next waits for the next request: from reqs; from the low-priority idle channel only
// once reqs has stayed empty for writerIdleGap (a request arriving meanwhile is taken at
// once). ok is false once reqs is closed and drained.
func (w *writer) next() (r *request, ok bool) {
	select {
	case r, ok = <-w.s.reqs:
		return r, ok
	default:
	}
	if w.idleTimer == nil {
		w.idleTimer = time.NewTimer(writerIdleGap)
	} else {
		w.idleTimer.Reset(writerIdleGap)
	}
	select {
	case r, ok = <-w.s.reqs:
		w.idleTimer.Stop()
		return r, ok
	case <-w.idleTimer.C:
	}
	select {
	case r, ok = <-w.s.reqs:
		return r, ok
	case r = <-w.s.idle:
		return r, true
	}
}

// maxCulprits bounds how many times one batch is retried without a request whose
// failure could not be isolated in place before the whole batch is failed.
const maxCulprits = 3

// process commits one batch and answers every request in it.
func (w *writer) process(batch []*request) {
	live := make([]*request, 0, len(batch))
	var checkpoints, indexes []*request
	for _, r := range batch {
		switch {
		case r.ctx.Err() != nil:
			// The caller has given up: drop the request before touching the database.
			r.err = r.ctx.Err()
		default:
			switch r.op.(type) {
			case *checkpointOp:
				checkpoints = append(checkpoints, r)
			case *indexOp:
				indexes = append(indexes, r)
			default:
				live = append(live, r)
			}
		}
	}
	if results, rest := splitResults(live); len(results) > 0 {
		// Delivery results go first, in a transaction of their own (synchronous=NORMAL:
		// no fsync, so a few hundred microseconds), and are answered at once: the queue
		// workers waiting for them (each may have only engine.MaxUnrecorded results
		// uncommitted) send on while the accepted messages' commit waits for its fsync.
		w.commitLive(results)
		for _, r := range results {
			r.answered = true
			close(r.done)
		}
		live = rest
	}
	w.commitLive(live)
	for _, r := range indexes {
		r.err = w.indexBatch(r.op.(*indexOp))
	}
	for _, r := range checkpoints {
		r.err = w.s.checkpoint(context.Background(), r.op.(*checkpointOp).mode)
	}
	w.s.items.Add(uint64(len(batch)))
	for _, r := range batch {
		if !r.answered {
			close(r.done)
		}
	}
}

// splitResults takes the delivery results out of live when live also holds accepted
// messages, whose commit waits for an fsync; otherwise results is empty.
func splitResults(live []*request) (results, rest []*request) {
	if !slices.ContainsFunc(live, isAccept) || !slices.ContainsFunc(live, isRecord) {
		return nil, live
	}
	rest = make([]*request, 0, len(live))
	for _, r := range live {
		if isRecord(r) {
			results = append(results, r)
		} else {
			rest = append(rest, r)
		}
	}
	return results, rest
}

// commitLive commits live in one transaction. A request that breaks the transaction
// fails alone and the others are run again without it, up to maxCulprits times.
func (w *writer) commitLive(live []*request) {
	for attempt := 0; len(live) > 0; attempt++ {
		culprit, err := w.transact(live)
		if err == nil {
			return
		}
		if culprit < 0 || attempt == maxCulprits {
			for _, r := range live {
				r.err = err
			}
			return
		}
		// One request broke the transaction: fail it alone and run the others again.
		// (A new slice: the caller may still range over the one it passed.)
		live[culprit].err = err
		live = append(live[:culprit:culprit], live[culprit+1:]...)
		for _, r := range live {
			r.err = nil
		}
	}
}

// transact runs live in one transaction and commits it. A request's own failure that
// could be undone in place is stored in its err and leaves the others alone. A returned
// error means nothing was committed; culprit is then the index of the request that caused
// it, or -1 when the batch as a whole failed (begin, counters, commit).
func (w *writer) transact(live []*request) (culprit int, err error) {
	defer w.s.observeCommit(time.Now(), live, &err) // metrics.go
	if err := w.setSync(live); err != nil {
		return -1, err
	}
	if _, err := w.begin.Exec(); err != nil {
		return -1, fmt.Errorf("sqlite: begin: %w", err)
	}
	clear(w.txQueues)
	clear(w.chanDelta)
	clear(w.qDelta)
	clear(w.lastErr)
	defer func() {
		if err != nil {
			_, _ = w.rollback.Exec()
		}
	}()
	if err := w.resolveQueues(live); err != nil {
		return -1, err
	}
	for i, r := range live {
		if isRecord(r) {
			continue // applied together, after the others (record.go)
		}
		if err := w.apply(r); err != nil {
			return i, err
		}
	}
	if i, err := w.recordAll(live); err != nil {
		return i, err
	}
	if err := w.applyCounters(); err != nil {
		return -1, err
	}
	if _, err := w.commit.Exec(); err != nil {
		return -1, fmt.Errorf("sqlite: commit: %w", err)
	}
	for k, id := range w.txQueues {
		w.queues[k] = id
	}
	w.s.commits.Add(1)
	accepted := false
	for _, r := range live {
		if r.err != nil {
			continue
		}
		switch op := r.op.(type) {
		case *acceptOp:
			accepted = true
			if len(op.destinations) > 0 {
				w.s.recent.add(op.id, recentOf(op))
			}
		case *recordOp:
			w.s.recent.remove(op.finished...)
		}
	}
	if accepted {
		// New messages to index: tell the indexer (never blocks).
		select {
		case w.s.idxKick <- struct{}{}:
		default:
		}
	}
	return -1, nil
}

// setSync picks the durability the batch needs (see writer.syncFull).
func (w *writer) setSync(live []*request) error {
	full := slices.ContainsFunc(live, isAccept)
	if full == w.syncFull {
		return nil
	}
	mode := "NORMAL"
	if full {
		mode = "FULL"
	}
	if _, err := w.conn.ExecContext(context.Background(), "PRAGMA synchronous = "+mode); err != nil {
		return fmt.Errorf("sqlite: synchronous=%s: %w", mode, err)
	}
	w.syncFull = full
	return nil
}

// resolveQueues makes sure every queue the batch's Accepts need exists and knows its id.
// It runs before any request, so no request undoing its own writes can remove
// a queue row another one uses.
func (w *writer) resolveQueues(live []*request) error {
	for _, r := range live {
		a, ok := r.op.(*acceptOp)
		if !ok {
			continue
		}
		for _, d := range a.destinations {
			if err := w.resolveQueue(queueKey{a.channel, d}); err != nil {
				return err
			}
		}
		for _, sk := range a.skipped {
			if err := w.resolveQueue(queueKey{a.channel, sk.Name}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) queueID(k queueKey) int64 {
	if id, ok := w.queues[k]; ok {
		return id
	}
	return w.txQueues[k]
}

// apply runs one request without a savepoint (they cost ~75% more writer CPU per
// Accept): every request either fails before it has written anything (each SQLite
// statement is atomic) or undoes its own writes, and reports that failure in r.err. A
// returned error means the request left the transaction in an unknown state (or SQLite
// dropped the transaction, as it may on I/O errors, disk full or out of memory): the
// caller rolls everything back and retries the batch without this request.
func (w *writer) apply(r *request) error {
	itemErr, fatal := r.op.apply(w)
	if fatal == nil && w.hook != nil {
		fatal = w.hook(r.op, "applied")
	}
	if fatal != nil {
		return fatal
	}
	if itemErr != nil {
		if !w.inTx() {
			return itemErr
		}
		r.err = itemErr
	}
	return nil
}

// inTx reports whether the writer connection still has its transaction open.
func (w *writer) inTx() bool {
	in := false
	_ = w.conn.Raw(func(dc any) error {
		if c, ok := dc.(*sqlite3.SQLiteConn); ok {
			in = !c.AutoCommit()
		}
		return nil
	})
	return in
}
