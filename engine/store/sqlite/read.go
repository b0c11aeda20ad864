package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"junction/engine"
)

// pendingSQL reads one queue's QUEUED rows from the deliveries_outbox partial index.
const pendingSQL = `
	SELECT d.id >> 8, d.attempts, d.next_attempt, m.control_id, m.data_type, m.meta,
	       coalesce(d.content, c.transformed, c.raw)
	FROM deliveries d JOIN messages m ON m.id = d.id >> 8 JOIN contents c ON c.message_id = m.id
	WHERE d.queue_id = (SELECT id FROM queues WHERE channel = ? AND destination = ?)
	  AND d.status = 'QUEUED' AND d.id >= ?
	ORDER BY d.id LIMIT ?`

// pendingIDsSQL is pendingSQL without the content: the outbox rows alone, for when the
// messages' content is at hand in Store.recent.
const pendingIDsSQL = `
	SELECT d.id >> 8, d.attempts, d.next_attempt, d.content IS NOT NULL
	FROM deliveries d
	WHERE d.queue_id = (SELECT id FROM queues WHERE channel = ? AND destination = ?)
	  AND d.status = 'QUEUED' AND d.id >= ?
	ORDER BY d.id LIMIT ?`

// pageDeliveriesSQL reads the deliveries of a page of messages (a JSON array of ids): one
// rowid range per id. CROSS JOIN keeps json_each the outer loop.
const pageDeliveriesSQL = `
	SELECT d.id, q.destination, d.status, d.attempts, d.next_attempt, d.last_error, d.updated_at
	FROM json_each(?) j
	CROSS JOIN deliveries d ON d.id BETWEEN j.value << 8 AND (j.value << 8) | 255
	JOIN queues q ON q.id = d.queue_id
	ORDER BY d.id`

// Pending implements engine.Store. The rows come from the deliveries_outbox partial index:
// an index range scan over the queue's QUEUED rows.
func (s *Store) Pending(ctx context.Context, channel, destination string, afterID int64, limit int) ([]engine.Delivery, error) {
	if s.shut.Load() {
		return nil, engine.ErrStoreClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	if afterID < 0 {
		afterID = 0
	}
	// deliveries.id = message_id<<8 | ordinal: the first id of message afterID+1.
	from := int64(math.MaxInt64)
	if afterID < math.MaxInt64>>8 {
		from = (afterID + 1) << 8
	}
	if out, ok, err := s.pendingRecent(ctx, channel, destination, from, limit); ok || err != nil {
		return out, err
	}
	rows, err := s.pending.QueryContext(ctx, channel, destination, from, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: Pending: %w", err)
	}
	defer rows.Close()
	var out []engine.Delivery
	for rows.Next() {
		d := engine.Delivery{Channel: channel, Destination: destination}
		var next int64
		if err := rows.Scan(&d.MessageID, &d.Attempts, &next, &d.ControlID, &d.DataType, &d.MetaJSON, &d.Content); err != nil {
			return nil, fmt.Errorf("sqlite: Pending: %w", err)
		}
		d.NextAttempt = fromNanos(next)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: Pending: %w", err)
	}
	return out, nil
}

// pendingRecent reads the queue's outbox rows and takes their content from s.recent. ok is
// false when any message is not there (or was edited for a resend): then nothing is
// returned and the caller reads everything from the store.
func (s *Store) pendingRecent(ctx context.Context, channel, destination string, from int64, limit int) (out []engine.Delivery, ok bool, err error) {
	rows, err := s.pendingIDs.QueryContext(ctx, channel, destination, from, limit)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: Pending: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, next int64
		var attempts int
		var edited bool
		if err := rows.Scan(&id, &attempts, &next, &edited); err != nil {
			return nil, false, fmt.Errorf("sqlite: Pending: %w", err)
		}
		e := s.recent.get(id)
		if e == nil || edited {
			return nil, false, nil
		}
		out = append(out, engine.Delivery{MessageID: id, Channel: channel, Destination: destination,
			Attempts: attempts, NextAttempt: fromNanos(next), ControlID: e.controlID, DataType: e.dataType,
			MetaJSON: e.meta, Content: e.content})
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: Pending: %w", err)
	}
	return out, true, nil
}

func decodeMeta(ns sql.NullString) (map[string]string, error) {
	if !ns.Valid || ns.String == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(ns.String), &m); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	return m, nil
}

// readTx runs f in one read transaction, so that its queries see one snapshot.
func (s *Store) readTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	if s.shut.Load() {
		return engine.ErrStoreClosed
	}
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return f(tx)
}

// ListMessages implements engine.Store.
func (s *Store) ListMessages(ctx context.Context, f engine.MessageFilter) ([]engine.MessageSummary, error) {
	var out []engine.MessageSummary
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		lo, hi, err := idBounds(ctx, tx, f.Since, f.Until)
		if err != nil {
			return err
		}
		q, args, err := listSQLRange(f, lo, hi)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m engine.MessageSummary
			var recv int64
			if err := rows.Scan(&m.ID, &m.Channel, &m.Status, &m.ControlID, &m.DataType,
				&m.SourceDomain, &m.OrgCode, &recv, &m.Error, &m.WarningCount); err != nil {
				return err
			}
			m.ReceivedAt = fromNanos(recv)
			m.Destinations = []engine.DestinationStatus{}
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(out) == 0 {
			return nil
		}
		// The page's deliveries in one query: a rowid range per message id.
		var ids strings.Builder
		ids.WriteByte('[')
		byID := make(map[int64]int, len(out))
		for i, m := range out {
			if i > 0 {
				ids.WriteByte(',')
			}
			ids.WriteString(strconv.FormatInt(m.ID, 10))
			byID[m.ID] = i
		}
		ids.WriteByte(']')
		if err := pageColumns(ctx, tx, ids.String(), out, byID); err != nil { // columns.go
			return err
		}
		drows, err := tx.QueryContext(ctx, pageDeliveriesSQL, ids.String())
		if err != nil {
			return err
		}
		defer drows.Close()
		for drows.Next() {
			var did int64
			var ds engine.DestinationStatus
			var next, upd int64
			if err := drows.Scan(&did, &ds.Name, &ds.Status, &ds.Attempts, &next, &ds.LastError, &upd); err != nil {
				return err
			}
			fillTimes(&ds, next, upd)
			if i, ok := byID[did>>8]; ok {
				out[i].Destinations = append(out[i].Destinations, ds)
			}
		}
		return drows.Err()
	})
	if err != nil {
		var fe *FilterError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: ListMessages: %w", err)
	}
	return out, nil
}

// FilterError is a MessageFilter that cannot be answered as given (an unknown status,
// a text query with nothing to search for).
type FilterError struct{ Field, Msg string }

func (e *FilterError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, engine.ErrBadFilter) true.
func (e *FilterError) Unwrap() error { return engine.ErrBadFilter }

// listSQL builds the ListMessages query for f, without id bounds for its time range.
func listSQL(f engine.MessageFilter) (q string, args []any, err error) {
	return listSQLRange(f, 0, 0)
}

// listSQLRange builds the ListMessages query for f. lo and hi (0: none) bound the ids
// the time range can match (see idBounds), so a range far in the past is a primary-key
// range scan rather than a walk from the newest message.
//
// Messages with text or a control id to match come from the full-text index, walked
// newest first (FTS4 hands docids out in descending order and stops at LIMIT); the
// other conditions are checked on each candidate's row.
func listSQLRange(f engine.MessageFilter, lo, hi int64) (q string, args []any, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var where []string
	match, err := ftsMatch(f)
	if err != nil {
		return "", nil, err
	}
	idCol := "id"
	if match != "" {
		idCol = "search.docid"
		where = append(where, "search MATCH ?")
		args = append(args, match)
	}
	if f.ControlID != "" {
		where = append(where, "control_id = ?")
		args = append(args, f.ControlID)
	}
	if f.Channel != "" {
		where = append(where, "channel = ?")
		args = append(args, f.Channel)
	}
	if f.OrgCode != "" {
		where = append(where, "org_code = ?")
		args = append(args, f.OrgCode)
	}
	if f.SourceDomain != "" {
		where = append(where, "source_domain = ?")
		args = append(args, f.SourceDomain)
	}
	if f.Warnings {
		where = append(where, "warnings > 0") // the condition of messages_warnings
	}
	if where, args, err = columnConds(f, where, args); err != nil { // columns.go
		return "", nil, err
	}
	status := f.Status
	if f.DestinationStatus == engine.StatusError && status == "" {
		// A message with a failed delivery is ERROR itself: its status index narrows it.
		status = engine.StatusError
	}
	if status != "" {
		if !engine.ValidStatus(string(status)) {
			return "", nil, &FilterError{"status", fmt.Sprintf("unknown status %q", status)}
		}
		// Literals (from the fixed set just checked), repeating the partial indexes' own
		// conditions, let SQLite use messages_status or deliveries_outbox.
		where = append(where, "status = '"+string(status)+"'")
		switch status {
		case engine.StatusSent:
		case engine.StatusQueued:
			if f.DestinationStatus == "" {
				where = append(where, "id IN (SELECT id >> 8 FROM deliveries WHERE status = 'QUEUED')")
			}
		default:
			where = append(where, "status NOT IN ('SENT', 'QUEUED')")
		}
	}
	if f.DestinationStatus != "" || f.Destination != "" || f.Retrying {
		cond, cargs, err := destinationCond(f)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, cond), append(args, cargs...)
	}
	if !f.Since.IsZero() {
		where = append(where, "received_at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "received_at < ?")
		args = append(args, f.Until.UnixNano())
	}
	if f.BeforeID > 0 {
		where = append(where, idCol+" < ?")
		args = append(args, f.BeforeID)
	}
	if lo > 0 {
		where = append(where, idCol+" >= ?")
		args = append(args, lo)
	}
	if hi > 0 {
		where = append(where, idCol+" <= ?")
		args = append(args, hi)
	}
	const cols = `SELECT id, channel, status, control_id, data_type, source_domain, org_code, received_at, error, warnings`
	if match != "" {
		// CROSS JOIN keeps the index the outer loop, in docid order.
		q = cols + " FROM search CROSS JOIN messages ON messages.id = search.docid"
	} else {
		q = cols + " FROM messages"
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + idCol + " DESC LIMIT ?"
	args = append(args, limit)
	return q, args, nil
}

// blockedQueues are the queues whose head (their oldest QUEUED delivery: they deliver in
// order) has failed and is being retried, found per queue through the outbox index.
const blockedQueues = `SELECT q.id FROM queues q WHERE EXISTS (SELECT 1 FROM deliveries h
	WHERE h.id = (SELECT min(h2.id) FROM deliveries h2 WHERE h2.queue_id = q.id AND h2.status = 'QUEUED')
	AND h.attempts > 0 AND h.last_error <> '')`

// destinationCond is the condition on a message's deliveries that f's DestinationStatus
// and Destination ask for.
func destinationCond(f engine.MessageFilter) (where string, args []any, err error) {
	ds := f.DestinationStatus
	switch ds {
	case "", engine.StatusQueued, engine.StatusSent, engine.StatusError, engine.StatusFiltered:
	default:
		return "", nil, &FilterError{"destination_status", fmt.Sprintf("expected QUEUED, SENT, ERROR or FILTERED, got %q", ds)}
	}
	if f.Retrying {
		if ds != "" && ds != engine.StatusQueued {
			return "", nil, &FilterError{"destination_status", fmt.Sprintf("a retrying delivery is QUEUED, not %s", ds)}
		}
		ds = engine.StatusQueued
	}
	var cond []string
	if ds != "" {
		cond = append(cond, "d.status = '"+string(ds)+"'")
	}
	if f.Retrying {
		// Failed (not a resent success), or waiting in order behind a queue head that
		// failed: a downstream refusing connections holds its whole queue.
		cond = append(cond, "((d.attempts > 0 AND d.last_error <> '') OR d.queue_id IN ("+blockedQueues+"))")
	}
	if f.Destination != "" {
		qc := "destination = ?"
		args = append(args, f.Destination)
		if f.Channel != "" {
			qc += " AND channel = ?"
			args = append(args, f.Channel)
		}
		cond = append(cond, "d.queue_id IN (SELECT id FROM queues WHERE "+qc+")")
	}
	if ds == engine.StatusQueued {
		// The outbox index holds exactly the QUEUED rows.
		return "id IN (SELECT d.id >> 8 FROM deliveries d WHERE " + strings.Join(cond, " AND ") + ")", args, nil
	}
	return "EXISTS (SELECT 1 FROM deliveries d WHERE d.id BETWEEN messages.id << 8 AND (messages.id << 8) | 255 AND " +
		strings.Join(cond, " AND ") + ")", args, nil
}

func fillTimes(ds *engine.DestinationStatus, next, upd int64) {
	destinationReason(ds)
	ds.UpdatedAt = fromNanos(upd)
	if ds.Status == engine.StatusQueued && next != 0 {
		t := fromNanos(next)
		ds.NextAttempt = &t
	}
}

// GetMessage implements engine.Store.
//
// Stages are reported as effective text, resolving the store's "NULL = same as the
// previous stage" encoding: for a delivery that has been attempted (Attempts > 0) Encoded
// is the stored encoded content or else the content handed over (Transformed, or Raw), and
// Sent is the stored sent content or else the effective Encoded. Response is the stored
// response or nil. For a delivery not attempted yet all three are nil.
func (s *Store) GetMessage(ctx context.Context, id int64) (*engine.MessageDetail, error) {
	var d engine.MessageDetail
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var recv int64
		var meta sql.NullString
		var orig sql.NullInt64
		var raw, transformed []byte
		var warnings sql.NullString
		// LEFT JOIN: retention may have removed the content (prune.go).
		err := tx.QueryRowContext(ctx, `
			SELECT channel, status, control_id, data_type, source_domain, org_code, received_at,
			       error, meta, original_id, raw, transformed, c.warnings, c.message_id IS NULL
			FROM messages m LEFT JOIN contents c ON c.message_id = m.id WHERE m.id = ?`, id).Scan(&d.Channel, &d.Status, &d.ControlID, &d.DataType,
			&d.SourceDomain, &d.OrgCode, &recv, &d.Error, &meta, &orig, &raw, &transformed, &warnings, &d.ContentRemoved)
		if errors.Is(err, sql.ErrNoRows) {
			return engine.ErrNotFound
		}
		if err != nil {
			return err
		}
		d.ID = id
		d.ReceivedAt = fromNanos(recv)
		d.OriginalID = orig.Int64
		if d.Meta, err = decodeMeta(meta); err != nil {
			return err
		}
		if d.Meta == nil {
			d.Meta = map[string]string{}
		}
		if d.Warnings, err = decodeWarnings(warnings); err != nil {
			return err
		}
		d.WarningCount = len(d.Warnings)
		if d.Columns, err = messageColumns(ctx, tx, id); err != nil { // columns.go
			return err
		}
		d.Raw = string(raw)
		content := d.Raw
		if transformed != nil {
			t := string(transformed)
			d.Transformed = &t
			content = t
		}
		d.Destinations = []engine.DestinationStatus{}
		rows, err := tx.QueryContext(ctx, `
			SELECT q.destination, d.status, d.attempts, d.next_attempt, d.last_error, d.updated_at,
			       d.encoded, d.sent, d.response, d.content
			FROM deliveries d JOIN queues q ON q.id = d.queue_id
			WHERE d.id BETWEEN ? AND ? ORDER BY d.id`, id<<8, id<<8|0xff)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ds engine.DestinationStatus
			var next, upd int64
			var enc, sent, resp, edited []byte
			if err := rows.Scan(&ds.Name, &ds.Status, &ds.Attempts, &next, &ds.LastError, &upd,
				&enc, &sent, &resp, &edited); err != nil {
				return err
			}
			fillTimes(&ds, next, upd)
			content := content
			if edited != nil {
				e := string(edited)
				ds.Edited, content = &e, e
			}
			if ds.Attempts > 0 && !d.ContentRemoved {
				e := content
				if enc != nil {
					e = string(enc)
				}
				w := e
				if sent != nil {
					w = string(sent)
				}
				ds.Encoded, ds.Sent = &e, &w
			}
			if resp != nil {
				r := string(resp)
				ds.Response = &r
			}
			d.Destinations = append(d.Destinations, ds)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		d.Events, err = readEvents(ctx, tx, `WHERE message_id = ? ORDER BY id`, id)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrStoreClosed) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: GetMessage: %w", err)
	}
	return &d, nil
}

// Stats implements engine.Store. It reads the counters the writer maintains in the same
// transactions as the rows they count: two small table scans, independent of the number
// of messages.
func (s *Store) Stats(ctx context.Context) (map[string]engine.ChannelStats, error) {
	out := map[string]engine.ChannelStats{}
	get := func(name string) engine.ChannelStats {
		cs, ok := out[name]
		if !ok {
			cs.Destinations = map[string]engine.DestinationCounts{}
		}
		return cs
	}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name, received, filtered, errored FROM channels`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var r, f, e int64
			if err := rows.Scan(&name, &r, &f, &e); err != nil {
				return err
			}
			cs := get(name)
			cs.Received, cs.Filtered, cs.Errored = r, f, e
			out[name] = cs
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		qrows, err := tx.QueryContext(ctx, `SELECT channel, destination, queued, sent, error, filtered FROM queues`)
		if err != nil {
			return err
		}
		defer qrows.Close()
		for qrows.Next() {
			var ch, dest string
			var dc engine.DestinationCounts
			if err := qrows.Scan(&ch, &dest, &dc.Queued, &dc.Sent, &dc.Error, &dc.Filtered); err != nil {
				return err
			}
			cs := get(ch)
			cs.Destinations[dest] = dc
			out[ch] = cs
		}
		return qrows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: Stats: %w", err)
	}
	return out, nil
}

// QueueHolder implements engine.Store.
func (s *Store) QueueHolder(ctx context.Context, channel, destination string) (string, time.Time, error) {
	if s.shut.Load() {
		return "", time.Time{}, engine.ErrStoreClosed
	}
	var owner string
	var until int64
	err := s.rdb.QueryRowContext(ctx, `SELECT lease_owner, lease_until FROM queues WHERE channel = ? AND destination = ?`,
		channel, destination).Scan(&owner, &until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner == "") {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sqlite: QueueHolder: %w", err)
	}
	return owner, fromNanos(until), nil
}

// MessageByKey implements engine.Store.
func (s *Store) MessageByKey(ctx context.Context, key string) (int64, error) {
	if s.shut.Load() {
		return 0, engine.ErrStoreClosed
	}
	var id int64
	err := s.rdb.QueryRowContext(ctx, `SELECT id FROM messages WHERE dedup_key = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, engine.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: MessageByKey: %w", err)
	}
	return id, nil
}
