package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"junction/engine"
	"junction/hl7"
)

// Full-text search.
//
// The index (the contentless FTS4 table "search", docid = message id) is filled by the
// indexer goroutine, never by Accept: it reads committed messages past its persisted
// cursor (search_state.indexed_to) in batches from the read pool, and hands each batch to
// the writer as one low-priority request, which the writer runs in a transaction of its
// own only after it has had nothing else to do for writerIdleGap: indexing fills the
// writer's quiet moments and never delays an Accept by more than one small batch. Under
// a load that leaves the writer no such gap, the indexer waits indexStarve, then queues a
// smaller batch as ordinary work: search lags ingestion but keeps moving, at a cost to
// ingestion of a few milliseconds of writer time per indexStarve.

// Indexer tuning.
var (
	indexBatchDocs  = 128       // messages per index transaction (a few ms of writer time)
	indexBatchBytes = 256 << 10 // text per index transaction
	indexStarveDocs = 64        // messages per transaction when the writer is never idle
	indexStarve     = 500 * time.Millisecond
	indexPoll       = time.Second // look for messages written by other processes
	indexDocMax     = 1 << 20     // text indexed per message (the rest is not searchable)
	indexDebounce   = 20 * time.Millisecond
	writerIdleGap   = 10 * time.Millisecond // quiet time before the writer takes background work
)

// runIndexer is the indexer goroutine; it ends with ctx.
func (s *Store) runIndexer(ctx context.Context) {
	defer close(s.idxDone)
	cursor := int64(-1)
	for ctx.Err() == nil {
		if cursor < 0 {
			st, err := s.SearchStatus(ctx)
			if err != nil {
				sleepCtx(ctx, indexPoll)
				continue
			}
			cursor = st.IndexedThrough
			s.indexedTo.Store(cursor)
		}
		docs, through, err := s.readIndexBatch(ctx, cursor, indexBatchDocs, indexBatchBytes)
		if err != nil {
			sleepCtx(ctx, indexPoll)
			continue
		}
		if through == cursor {
			// Caught up: wait for the writer to say it committed messages (or for another
			// process's writes, polled).
			t := time.NewTimer(indexPoll)
			select {
			case <-ctx.Done():
			case <-s.idxKick:
				// Let a burst settle so one index transaction takes more of it.
				sleepCtx(ctx, indexDebounce)
			case <-t.C:
			}
			t.Stop()
			continue
		}
		op := &indexOp{from: cursor, through: through, docs: docs}
		ok, err := s.submitIdle(ctx, &request{op: op}, s.idxStarve)
		if err == nil && !ok {
			// The writer was never idle: index a small batch as ordinary work.
			if len(docs) > indexStarveDocs {
				op.docs = docs[:indexStarveDocs]
				op.through = docs[indexStarveDocs-1].id
			}
			err = s.submit(ctx, &request{op: op})
		}
		if err != nil {
			if ctx.Err() == nil {
				// E.g. another process moved the cursor: read it again.
				cursor = -1
				sleepCtx(ctx, indexPoll)
			}
			continue
		}
		cursor = op.through
		s.indexedTo.Store(cursor)
	}
}

// readIndexBatch reads the text of messages after cursor: up to maxDocs messages or about
// maxBytes of text. through is the last message id read (cursor when there is none).
func (s *Store) readIndexBatch(ctx context.Context, cursor int64, maxDocs, maxBytes int) (docs []indexDoc, through int64, err error) {
	through = cursor
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT m.id, m.error, c.raw, c.transformed
		FROM messages m JOIN contents c ON c.message_id = m.id
		WHERE m.id > ? ORDER BY m.id LIMIT ?`, cursor, maxDocs)
	if err != nil {
		return nil, cursor, err
	}
	defer rows.Close()
	size := 0
	for rows.Next() && size < maxBytes {
		var id int64
		var errText string
		var raw, transformed []byte
		if err := rows.Scan(&id, &errText, &raw, &transformed); err != nil {
			return nil, cursor, err
		}
		body := indexBody(errText, raw, transformed)
		size += len(body)
		docs = append(docs, indexDoc{id: id, body: body})
		through = id
	}
	if err := rows.Err(); err != nil {
		return nil, cursor, err
	}
	return docs, through, nil
}

// indexBody is the text the index holds for a message: its raw content, the lines its
// transform added, its error. Pruning (prune.go) computes it again to delete the message's
// words from the index, so it must depend on nothing but its arguments.
func indexBody(errText string, raw, transformed []byte) []byte {
	if !utf8.Valid(raw) {
		// Raw content is stored as received: HL7v2 in the character set its MSH-18
		// names (Latin-1, …). Index it as the text it is.
		raw, _, _ = hl7.DecodeCharset(raw)
	}
	body := make([]byte, 0, len(raw)+len(errText)+2)
	body = append(body, raw...)
	body = appendNewLines(body, raw, transformed)
	if errText != "" {
		body = append(append(body, '\n'), errText...)
	}
	if len(body) > indexDocMax {
		body = body[:indexDocMax]
	}
	return body
}

// appendNewLines appends to body the lines (segments) of transformed that raw lacks:
// what a transform changed is searchable without indexing the message twice (the index
// ignores case, so an upper-cased name adds nothing).
func appendNewLines(body, raw, transformed []byte) []byte {
	if transformed == nil {
		return body
	}
	isSep := func(r rune) bool { return r == '\r' || r == '\n' }
	have := map[string]bool{}
	for _, l := range bytes.FieldsFunc(raw, isSep) {
		have[strings.ToLower(string(l))] = true
	}
	for _, l := range bytes.FieldsFunc(transformed, isSep) {
		if k := strings.ToLower(string(l)); !have[k] {
			have[k] = true
			body = append(append(body, '\n'), l...)
		}
	}
	return body
}

// SearchStatus implements engine.Store.
func (s *Store) SearchStatus(ctx context.Context) (engine.SearchStatus, error) {
	var st engine.SearchStatus
	if s.shut.Load() {
		return st, engine.ErrStoreClosed
	}
	err := s.rdb.QueryRowContext(ctx, `SELECT (SELECT indexed_to FROM search_state WHERE id = 1),
		(SELECT coalesce(max(id), 0) FROM messages)`).Scan(&st.IndexedThrough, &st.LatestID)
	if err != nil {
		return st, fmt.Errorf("sqlite: SearchStatus: %w", err)
	}
	if st.IndexedThrough > st.LatestID {
		st.IndexedThrough = st.LatestID
	}
	return st, nil
}

// WaitIndexed waits until every message up to id is in the full-text index (for tests
// and benchmarks).
func (s *Store) WaitIndexed(ctx context.Context, id int64) error {
	for s.indexedTo.Load() < id {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ftsQuery turns an operator's search text into an FTS4 MATCH expression that cannot be
// a syntax error: each whitespace-separated word (or "quoted phrase") becomes a quoted
// phrase of its tokens, split the way the unicode61 tokenizer splits text (letters and
// digits are kept, everything else separates), so SMITH^JOHN is the phrase "SMITH JOHN"
// and 12-34 the phrase "12 34". A word ending in * matches by prefix. All phrases must
// occur. It returns "" when there is nothing to search for.
func ftsQuery(text string) string {
	var phrases []string
	add := func(chunk string) {
		prefix := strings.HasSuffix(chunk, "*")
		toks := strings.FieldsFunc(chunk, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)) || r == utf8.RuneError
		})
		if len(toks) == 0 {
			return
		}
		p := `"` + strings.Join(toks, " ")
		if prefix {
			p += "*"
		}
		phrases = append(phrases, p+`"`)
	}
	for text != "" {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		if text == "" {
			break
		}
		if text[0] == '"' {
			end := strings.IndexByte(text[1:], '"')
			if end < 0 {
				add(text[1:])
				break
			}
			add(text[1 : 1+end])
			text = text[2+end:]
			continue
		}
		end := strings.IndexFunc(text, unicode.IsSpace)
		if end < 0 {
			end = len(text)
		}
		add(text[:end])
		text = text[end:]
	}
	return strings.Join(phrases, " ")
}

// ftsMatch is the full-text MATCH expression for f's text and control id ("" when it
// has neither).
func ftsMatch(f engine.MessageFilter) (string, error) {
	if f.Text == "" && f.ControlID == "" {
		return "", nil
	}
	var parts []string
	if f.Text != "" {
		m := ftsQuery(f.Text)
		if m == "" {
			return "", &FilterError{"q", "nothing to search for: give words or numbers"}
		}
		parts = append(parts, m)
	}
	if f.ControlID != "" {
		// The control id is in the content (MSH-10, the resource id): the index finds the
		// candidates, the column says which are exact.
		if m := ftsQuery(`"` + f.ControlID + `"`); m != "" {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, " "), nil
}

// idSlack is how far out of order received_at may be against message ids (a message's
// time is taken when it arrives, its id when it commits).
const idSlack = time.Minute

// idBounds turns a time range into a range of message ids that holds every message of
// it, by binary search over the primary key: ids grow with commit order, and receipt
// times follow commit order to within idSlack. 0 means no bound.
func idBounds(ctx context.Context, tx *sql.Tx, since, until time.Time) (lo, hi int64, err error) {
	if since.IsZero() && until.IsZero() {
		return 0, 0, nil
	}
	var maxID int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&maxID); err != nil {
		return 0, 0, err
	}
	if maxID == 0 {
		return 0, 0, nil
	}
	stmt, err := tx.PrepareContext(ctx, `SELECT id, received_at FROM messages WHERE id >= ? ORDER BY id LIMIT 1`)
	if err != nil {
		return 0, 0, err
	}
	defer stmt.Close()
	// first returns the first id whose received_at is >= t (maxID+1 when none), assuming
	// receipt times grow with ids.
	first := func(t int64) (int64, error) {
		a, b := int64(1), maxID+1 // answer in [a, b]
		for a < b {
			mid := a + (b-a)/2
			var id, recv int64
			err := stmt.QueryRowContext(ctx, mid).Scan(&id, &recv)
			if errors.Is(err, sql.ErrNoRows) {
				b = mid
				continue
			}
			if err != nil {
				return 0, err
			}
			if recv >= t {
				b = mid
			} else {
				a = id + 1
			}
		}
		return a, nil
	}
	if !since.IsZero() {
		if lo, err = first(since.Add(-idSlack).UnixNano()); err != nil {
			return 0, 0, err
		}
	}
	if !until.IsZero() {
		j, err := first(until.Add(idSlack).UnixNano())
		if err != nil {
			return 0, 0, err
		}
		if j > 1 {
			hi = j - 1
		} // else no message is old enough: the received_at condition alone answers
	}
	return lo, hi, nil
}

// readEvents reads events: where is the SQL after FROM events.
func readEvents(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]engine.Event, error) {
	rows, err := tx.QueryContext(ctx, `SELECT at, message_id, channel, destination, kind, detail FROM events `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.Event
	for rows.Next() {
		var ev engine.Event
		var at int64
		if err := rows.Scan(&at, &ev.MessageID, &ev.Channel, &ev.Destination, &ev.Kind, &ev.Detail); err != nil {
			return nil, err
		}
		ev.At = fromNanos(at)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// Events returns the most recent operator actions on a channel (on its queues and its
// messages), newest first.
func (s *Store) Events(ctx context.Context, channel string, limit int) ([]engine.Event, error) {
	var out []engine.Event
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = readEvents(ctx, tx, `WHERE channel = ? ORDER BY id DESC LIMIT ?`, channel, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: Events: %w", err)
	}
	return out, nil
}

// Queues implements engine.Store.
func (s *Store) Queues(ctx context.Context) ([]engine.QueueInfo, error) {
	if s.shut.Load() {
		return nil, engine.ErrStoreClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT channel, destination, queued, sent, error, filtered, paused,
		lease_owner, lease_until, last_error, last_error_at, last_error_message FROM queues ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: Queues: %w", err)
	}
	defer rows.Close()
	var out []engine.QueueInfo
	now := time.Now().UnixNano()
	for rows.Next() {
		var q engine.QueueInfo
		var until, errAt int64
		if err := rows.Scan(&q.Channel, &q.Destination, &q.Counts.Queued, &q.Counts.Sent, &q.Counts.Error, &q.Counts.Filtered, &q.Paused,
			&q.Holder, &until, &q.LastError, &errAt, &q.LastErrorMessage); err != nil {
			return nil, fmt.Errorf("sqlite: Queues: %w", err)
		}
		if q.Holder != "" && until > now {
			t := fromNanos(until)
			q.HolderUntil = &t
		} else {
			q.Holder = ""
		}
		if errAt != 0 {
			t := fromNanos(errAt)
			q.LastErrorAt = &t
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: Queues: %w", err)
	}
	return out, nil
}

// QueuePaused implements engine.Store.
func (s *Store) QueuePaused(ctx context.Context, channel, destination string) (bool, error) {
	if s.shut.Load() {
		return false, engine.ErrStoreClosed
	}
	var p bool
	err := s.rdb.QueryRowContext(ctx, `SELECT paused FROM queues WHERE channel = ? AND destination = ?`, channel, destination).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: QueuePaused: %w", err)
	}
	return p, nil
}
