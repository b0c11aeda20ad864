package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/engine"
)

// Under load (the previous batch had lingerFrom requests or more), the writer waits up to
// lingerFor for more requests before committing, as PostgreSQL's commit_delay does.
var lingerFrom, lingerFor = 4, 200 * time.Microsecond

type opKind uint8

const (
	opAccept opKind = iota
	opRecord
	opAcquire
	opTake
	opRelease
	opCheckpoint // runs between transactions; used by tests and benchmarks
	opResend
	opEvent
	opPause
	opIndex // the background indexer's batch: its own transaction, low priority
	opFunc  // admin.go: fn runs in the batch's transaction
)

// maxDestinations bounds NewMessage.Destinations: the ordinal lives in the low 8 bits of
// deliveries.id.
const maxDestinations = 256

// request is one caller's unit of work for the writer. Everything the writer needs is
// prepared (validated, converted, copied) by the caller's goroutine before it is queued,
// so the writer only runs SQL and the caller may reuse its buffers even if it stops
// waiting.
type request struct {
	ctx  context.Context
	kind opKind

	acc     acceptReq
	results []recordReq
	lease   leaseReq
	mode    string // checkpoint mode
	resend  resendReq
	event   engine.Event
	pause   pauseReq
	index   indexReq
	// opFunc: run by the writer inside the transaction. Like every request it must fail
	// before writing (itemErr) or report a failure after a write as fatal.
	fn func(w *writer) (itemErr, fatal error)

	// finished (opRecord): messages whose deliveries are all final once committed.
	finished []int64
	// answered: done was closed before the rest of the batch was committed.
	answered bool

	// Answer, valid once done is closed.
	id    int64
	ok    bool
	names []string // opResend: the destinations queued again
	err   error
	done  chan struct{}
}

type resendReq struct {
	messageID    int64
	destinations []string
	content      any // nil or []byte
	detail       string
	at           int64
}

type pauseReq struct {
	channel, destination string
	paused               bool
	detail               string
	at                   int64
}

// indexReq adds documents to the full-text index and moves its cursor from from to
// through (every message in between is indexed, or has no text).
type indexReq struct {
	from, through int64
	docs          []indexDoc
}

type indexDoc struct {
	id   int64
	body []byte
}

type acceptReq struct {
	channel      string
	status       string // as stored: QUEUED when TRANSFORMED with destinations
	srcStatus    engine.Status
	receivedAt   int64
	dataType     string
	controlID    string
	sourceDomain string
	orgCode      string
	originalID   any // nil or int64
	dedupKey     any // nil or string
	errText      string
	meta         any // nil or string (JSON)
	raw          []byte
	transformed  any // nil or []byte
	warnings     int // how many; their JSON (nil or string) in warnText
	warnText     any
	destinations []string
	skipped      []engine.SkippedDestination // stored after destinations, never queued
	columns      map[string]string           // custom metadata column values (columns.go)
}

type leaseReq struct {
	channel, destination, owner string
	ttl                         time.Duration
	from                        string // opTake: the dead holder
}

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

// Accept implements engine.Store.
func (s *Store) Accept(ctx context.Context, m *engine.NewMessage) (int64, error) {
	if m == nil {
		return 0, errors.New("sqlite: Accept: nil message")
	}
	a := acceptReq{
		channel:      m.Channel,
		status:       string(m.Status),
		srcStatus:    m.Status,
		receivedAt:   nanos(m.ReceivedAt),
		dataType:     m.DataType,
		controlID:    m.ControlID,
		sourceDomain: m.SourceDomain,
		orgCode:      m.OrgCode,
		errText:      m.Error,
		raw:          m.Raw, // not copied: the caller hands the buffers over (NewMessage)
		columns:      m.Columns,
	}
	if a.channel == "" {
		return 0, errors.New("sqlite: Accept: empty channel")
	}
	switch m.Status {
	case engine.StatusFiltered, engine.StatusError:
	case engine.StatusTransformed:
		if err := acceptRoutes(&a, m); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("sqlite: Accept: status %q, want FILTERED, ERROR or TRANSFORMED", m.Status)
	}
	if a.receivedAt == 0 {
		a.receivedAt = time.Now().UnixNano()
	}
	if m.OriginalID != 0 {
		a.originalID = m.OriginalID
	}
	if m.DedupKey != "" {
		a.dedupKey = m.DedupKey
	}
	if len(m.Meta) > 0 {
		a.meta = metaJSON(m.Meta)
	}
	a.warnings, a.warnText = len(m.Warnings), warningsJSON(m.Warnings)
	// Transformed is stored only when it differs from raw.
	if m.Transformed != nil && string(m.Transformed) != string(m.Raw) {
		a.transformed = m.Transformed
	}
	r := &request{kind: opAccept, acc: a}
	if err := s.submit(ctx, r); err != nil {
		return 0, err
	}
	return r.id, nil
}

// AcquireQueue implements engine.Store.
func (s *Store) AcquireQueue(ctx context.Context, channel, destination, owner string, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, errors.New("sqlite: AcquireQueue: empty owner")
	}
	if ttl <= 0 {
		return false, errors.New("sqlite: AcquireQueue: ttl must be positive")
	}
	r := &request{kind: opAcquire, lease: leaseReq{channel: channel, destination: destination, owner: owner, ttl: ttl}}
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	return r.ok, nil
}

// TakeQueue implements engine.Store.
func (s *Store) TakeQueue(ctx context.Context, channel, destination, deadOwner, owner string, ttl time.Duration) (bool, error) {
	if owner == "" || deadOwner == "" {
		return false, errors.New("sqlite: TakeQueue: empty owner")
	}
	if ttl <= 0 {
		return false, errors.New("sqlite: TakeQueue: ttl must be positive")
	}
	r := &request{kind: opTake, lease: leaseReq{channel: channel, destination: destination, owner: owner, ttl: ttl, from: deadOwner}}
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	return r.ok, nil
}

// ReleaseQueue implements engine.Store. Releasing a lease one does not hold is a no-op.
func (s *Store) ReleaseQueue(ctx context.Context, channel, destination, owner string) error {
	if owner == "" {
		return errors.New("sqlite: ReleaseQueue: empty owner")
	}
	return s.submit(ctx, &request{kind: opRelease, lease: leaseReq{channel: channel, destination: destination, owner: owner}})
}

// Checkpoint asks the writer to run PRAGMA wal_checkpoint(mode) between two transactions.
// mode is PASSIVE, FULL, RESTART or TRUNCATE.
func (s *Store) Checkpoint(ctx context.Context, mode string) error {
	switch mode {
	case "PASSIVE", "FULL", "RESTART", "TRUNCATE":
	default:
		return fmt.Errorf("sqlite: Checkpoint: bad mode %q", mode)
	}
	return s.submit(ctx, &request{kind: opCheckpoint, mode: mode})
}

// Resend implements engine.Store.
func (s *Store) Resend(ctx context.Context, rr engine.ResendRequest) ([]string, error) {
	if rr.MessageID <= 0 {
		return nil, fmt.Errorf("sqlite: Resend: message %d: %w", rr.MessageID, engine.ErrNotFound)
	}
	r := &request{kind: opResend, resend: resendReq{
		messageID:    rr.MessageID,
		destinations: append([]string(nil), rr.Destinations...),
		content:      blobArg(rr.Content),
		detail:       rr.Detail,
		at:           time.Now().UnixNano(),
	}}
	if err := s.submit(ctx, r); err != nil {
		return nil, err
	}
	return r.names, nil
}

// AddEvent implements engine.Store.
func (s *Store) AddEvent(ctx context.Context, ev engine.Event) error {
	if ev.Kind == "" {
		return errors.New("sqlite: AddEvent: empty kind")
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	return s.submit(ctx, &request{kind: opEvent, event: ev})
}

// SetQueuePaused implements engine.Store.
func (s *Store) SetQueuePaused(ctx context.Context, channel, destination string, paused bool, detail string) error {
	if channel == "" || destination == "" {
		return errors.New("sqlite: SetQueuePaused: empty channel or destination")
	}
	return s.submit(ctx, &request{kind: opPause, pause: pauseReq{channel: channel, destination: destination,
		paused: paused, detail: detail, at: time.Now().UnixNano()}})
}

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
	hook func(r *request, stage string) error
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
		if r.kind == opIndex {
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
		case r.kind == opCheckpoint:
			checkpoints = append(checkpoints, r)
		case r.kind == opIndex:
			indexes = append(indexes, r)
		default:
			live = append(live, r)
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
		r.err = w.indexBatch(r)
	}
	for _, r := range checkpoints {
		r.err = w.s.checkpoint(context.Background(), r.mode)
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
	accepts := slices.ContainsFunc(live, func(r *request) bool { return r.kind == opAccept })
	if !accepts || !slices.ContainsFunc(live, func(r *request) bool { return r.kind == opRecord }) {
		return nil, live
	}
	rest = make([]*request, 0, len(live))
	for _, r := range live {
		if r.kind == opRecord {
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
				r.id, r.ok, r.err = 0, false, err
			}
			return
		}
		// One request broke the transaction: fail it alone and run the others again.
		// (A new slice: the caller may still range over the one it passed.)
		live[culprit].err = err
		live = append(live[:culprit:culprit], live[culprit+1:]...)
		for _, r := range live {
			r.id, r.ok, r.err = 0, false, nil
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
		if r.kind == opRecord {
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
		switch r.kind {
		case opAccept:
			accepted = true
			if len(r.acc.destinations) > 0 {
				w.s.recent.add(r.id, recentOf(&r.acc))
			}
		case opRecord:
			w.s.recent.remove(r.finished...)
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

// recentOf is what the queue workers will read of an accepted message (see Pending).
func recentOf(a *acceptReq) *recentEntry {
	e := &recentEntry{controlID: a.controlID, dataType: a.dataType, content: a.raw}
	if t, ok := a.transformed.([]byte); ok {
		e.content = t
	}
	if m, ok := a.meta.(string); ok {
		e.meta = []byte(m)
	}
	return e
}

// setSync picks the durability the batch needs (see writer.syncFull).
func (w *writer) setSync(live []*request) error {
	full := false
	for _, r := range live {
		if r.kind == opAccept {
			full = true
			break
		}
	}
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
		if r.kind != opAccept {
			continue
		}
		for _, d := range r.acc.destinations {
			if err := w.resolveQueue(queueKey{r.acc.channel, d}); err != nil {
				return err
			}
		}
		for _, sk := range r.acc.skipped {
			if err := w.resolveQueue(queueKey{r.acc.channel, sk.Name}); err != nil {
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
	var itemErr, fatal error
	switch r.kind {
	case opAccept:
		itemErr, fatal = w.accept(r)
	case opAcquire:
		itemErr = w.acquireLease(r)
	case opTake:
		l := r.lease
		res, err := w.take.Exec(l.owner, time.Now().UnixNano()+int64(l.ttl), l.channel, l.destination, l.from)
		if err == nil {
			var n int64
			n, err = res.RowsAffected()
			r.ok = n == 1
		}
		if err != nil {
			itemErr = fmt.Errorf("sqlite: TakeQueue: %w", err)
		}
	case opRelease:
		if _, err := w.release.Exec(r.lease.channel, r.lease.destination, r.lease.owner); err != nil {
			itemErr = fmt.Errorf("sqlite: ReleaseQueue: %w", err)
		}
	case opResend:
		itemErr, fatal = w.resendOne(r)
	case opEvent:
		ev := r.event
		if _, err := w.insEvent.Exec(ev.At.UnixNano(), ev.MessageID, ev.Channel, ev.Destination, ev.Kind, ev.Detail); err != nil {
			itemErr = fmt.Errorf("sqlite: AddEvent: %w", err)
		}
	case opPause:
		itemErr, fatal = w.setPaused(r)
	case opFunc:
		itemErr, fatal = r.fn(w)
	}
	if fatal == nil && w.hook != nil {
		fatal = w.hook(r, "applied")
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

// accept inserts one message and its deliveries. It isolates itself (see apply):
// a failed message insert (e.g. duplicate DedupKey) has written nothing; a failure after
// it is undone by deleting what this request inserted.
func (w *writer) accept(r *request) (itemErr, fatal error) {
	a := &r.acc
	res, err := w.insMsg.Exec(a.channel, a.status, a.receivedAt, a.dataType, a.controlID,
		a.sourceDomain, a.orgCode, a.originalID, a.dedupKey, a.errText, a.meta, a.warnings)
	if err != nil {
		if a.dedupKey != nil && isUnique(err) {
			return engine.ErrDuplicate, nil
		}
		return fmt.Errorf("sqlite: insert message: %w", err), nil
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	if _, err := w.insContent.Exec(id, a.raw, a.transformed, a.warnText); err != nil {
		// Undo the message row; if that fails too, the batch is retried without it.
		if _, e := w.delMsg.Exec(id); e != nil {
			return nil, errors.Join(err, e)
		}
		return fmt.Errorf("sqlite: insert content: %w", err), nil
	}
	if itemErr, fatal := w.insertColumns(a, id); itemErr != nil || fatal != nil { // columns.go
		return itemErr, fatal
	}
	if itemErr, fatal := w.insertDeliveries(r, id); itemErr != nil || fatal != nil {
		return itemErr, fatal
	}
	// Counters are applied at the end of the transaction, only for requests that succeeded.
	c := w.chanDelta[a.channel]
	if c == nil {
		c = &channelCounts{}
		w.chanDelta[a.channel] = c
	}
	c.received++
	switch {
	case a.status == string(engine.StatusFiltered): // by the channel's filters, or every destination's
		c.filtered++
	case a.srcStatus == engine.StatusError:
		c.errored++
	}
	for _, d := range a.destinations {
		w.qCounts(w.queueID(queueKey{a.channel, d})).queued++
	}
	for _, sk := range a.skipped {
		w.qCounts(w.queueID(queueKey{a.channel, sk.Name})).add(string(sk.Status), 1)
	}
	r.id = id
	return nil, nil
}

func (w *writer) qCounts(queueID int64) *queueCounts {
	c := w.qDelta[queueID]
	if c == nil {
		c = &queueCounts{}
		w.qDelta[queueID] = c
	}
	return c
}

func (w *writer) acquireLease(r *request) error {
	l := r.lease
	now := time.Now().UnixNano()
	res, err := w.acquire.Exec(l.channel, l.destination, l.owner, now+int64(l.ttl), now)
	if err != nil {
		return fmt.Errorf("sqlite: AcquireQueue: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	r.ok = n == 1
	return nil
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

// resendOne queues chosen deliveries of one message again. Every lookup comes first, so
// an unknown message or destination fails the request before anything is written; a
// failure after the first write leaves the transaction to be retried without it.
func (w *writer) resendOne(r *request) (itemErr, fatal error) {
	rs := &r.resend
	var channel string
	if err := w.msgChannel.QueryRow(rs.messageID).Scan(&channel); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("message %d: %w", rs.messageID, engine.ErrNotFound), nil
		}
		return fmt.Errorf("sqlite: Resend: %w", err), nil
	}
	// Retention may have stripped the content since the caller looked: a delivery queued
	// again would then wait for ever (Pending joins contents), so refuse it here.
	var hasContent bool
	if err := w.conn.QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM contents WHERE message_id = ?)`, rs.messageID).Scan(&hasContent); err != nil {
		return fmt.Errorf("sqlite: Resend: %w", err), nil
	}
	if !hasContent {
		return engine.ContentRemoved(rs.messageID), nil
	}
	type del struct {
		id, queue    int64
		status, dest string
		chosen       bool
	}
	var dels []del
	rows, err := w.loadDels.Query(rs.messageID<<8, rs.messageID<<8|0xff)
	if err != nil {
		return fmt.Errorf("sqlite: Resend: %w", err), nil
	}
	for rows.Next() {
		var d del
		if err := rows.Scan(&d.id, &d.queue, &d.status, &d.dest); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: Resend: %w", err), nil
		}
		dels = append(dels, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: Resend: %w", err), nil
	}
	if len(dels) == 0 {
		return fmt.Errorf("message %d: %w", rs.messageID, engine.ErrNoDeliveries), nil
	}
	if len(rs.destinations) == 0 {
		for i := range dels {
			dels[i].chosen = true
		}
	}
	for _, name := range rs.destinations {
		found := false
		for i := range dels {
			if dels[i].dest == name {
				dels[i].chosen, found = true, true
			}
		}
		if !found {
			return fmt.Errorf("message %d has no destination %q: %w", rs.messageID, name, engine.ErrNotFound), nil
		}
	}
	// A destination its filter left out (or failed on) is not resent: reprocess.
	unrouted, err := w.unrouted(rs.messageID)
	if err != nil {
		return fmt.Errorf("sqlite: Resend: %w", err), nil
	}
	some := false
	for i := range dels {
		dels[i].chosen = dels[i].chosen && !unrouted[dels[i].id]
		some = some || dels[i].chosen
	}
	if !some {
		return fmt.Errorf("message %d: %w (its filters left it out)", rs.messageID, engine.ErrNoDeliveries), nil
	}
	kind := "resend"
	if rs.content != nil {
		kind = "resend-edited"
	}
	var names []string
	for i := range dels {
		d := &dels[i]
		if !d.chosen {
			continue
		}
		if _, err := w.requeue.Exec(rs.at, rs.content, rs.at, d.id); err != nil {
			return nil, fmt.Errorf("sqlite: Resend: %w", err)
		}
		if _, err := w.insEvent.Exec(rs.at, rs.messageID, channel, d.dest, kind, rs.detail); err != nil {
			return nil, fmt.Errorf("sqlite: Resend: event: %w", err)
		}
		if d.status != string(engine.StatusQueued) {
			c := w.qCounts(d.queue)
			c.add(d.status, -1)
			c.add(string(engine.StatusQueued), 1)
			d.status = string(engine.StatusQueued)
		}
		names = append(names, d.dest)
	}
	if _, err := w.setStatus.Exec(aggregate(dels, func(d del) string { return d.status }), rs.messageID); err != nil {
		return nil, fmt.Errorf("sqlite: Resend: message status: %w", err)
	}
	r.names = names
	return nil, nil
}

// setPaused sets a queue's paused flag (creating the queue row if it is new) and logs it.
func (w *writer) setPaused(r *request) (itemErr, fatal error) {
	p := r.pause
	if _, err := w.pause.Exec(p.channel, p.destination, p.paused); err != nil {
		return fmt.Errorf("sqlite: SetQueuePaused: %w", err), nil
	}
	kind := "resume"
	if p.paused {
		kind = "pause"
	}
	if _, err := w.insEvent.Exec(p.at, 0, p.channel, p.destination, kind, p.detail); err != nil {
		return nil, fmt.Errorf("sqlite: SetQueuePaused: event: %w", err)
	}
	// A queue row created here is committed with this transaction; forget nothing cached:
	// resolveQueues looks rows up by name when it meets a new queue.
	return nil, nil
}

// indexBatch adds one batch of documents to the full-text index in its own transaction
// (synchronous=NORMAL: a batch lost to a power cut is indexed again, since the cursor is
// committed with it). It checks the cursor first, so a batch is never indexed twice.
func (w *writer) indexBatch(r *request) error {
	if err := w.setSync([]*request{r}); err != nil {
		return err
	}
	if _, err := w.begin.Exec(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	err := func() error {
		var at int64
		if err := w.indexedTo.QueryRow().Scan(&at); err != nil {
			return err
		}
		if at != r.index.from {
			return fmt.Errorf("index cursor is at %d, not %d", at, r.index.from)
		}
		for _, d := range r.index.docs {
			if _, err := w.insSearch.Exec(d.id, d.body); err != nil {
				return fmt.Errorf("message %d: %w", d.id, err)
			}
		}
		if _, err := w.setIndexedTo.Exec(r.index.through); err != nil {
			return err
		}
		_, err := w.commit.Exec()
		return err
	}()
	if err != nil {
		_, _ = w.rollback.Exec()
		return fmt.Errorf("sqlite: index: %w", err)
	}
	w.s.commits.Add(1)
	return nil
}
