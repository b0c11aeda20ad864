package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// The writer's side of a retention pass (prune.go): the transactions that remove.

// pruneBatch removes (remove) or strips the content of the messages ids, checking each
// again first, in writer transactions of at most pruneBatchTime each; it returns those it
// changed.
func (s *Store) pruneBatch(ctx context.Context, p pruneRule, ids []int64, remove bool) ([]int64, error) {
	ids = append([]int64(nil), ids...)
	var done []int64
	for next := 0; next < len(ids); {
		var changed []int64
		took := 0
		r := &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
			start := time.Now()
			changed, took = changed[:0], 0
			var indexed int64
			if err := w.indexedTo.QueryRow().Scan(&indexed); err != nil {
				return fmt.Errorf("sqlite: prune: %w", err), nil
			}
			st, err := w.prepPrune()
			if err != nil {
				return fmt.Errorf("sqlite: prune: %w", err), nil
			}
			defer st.close()
			for _, id := range ids[next:] {
				if took > 0 && time.Since(start) > pruneBatchTime {
					break // the rest in the next transaction: ingest waits no longer
				}
				took++
				ok, err := st.pruneOne(w, p, id, indexed, remove)
				if err != nil {
					return nil, fmt.Errorf("sqlite: prune message %d: %w", id, err)
				}
				if ok {
					changed = append(changed, id)
				}
			}
			return nil, nil
		})}
		if err := s.submitBackground(ctx, r); err != nil {
			return done, err
		}
		if r.err != nil {
			return done, r.err
		}
		next += took
		done = append(done, changed...)
		if remove {
			s.recent.remove(changed...) // a message removed at max may have been queued
		}
	}
	return done, nil
}

// submitBackground hands r to the writer when it is idle, or after pruneStarve as
// ordinary work (as the indexer does).
func (s *Store) submitBackground(ctx context.Context, r *request) error {
	ok, err := s.submitIdle(ctx, r, pruneStarve)
	if err != nil || ok {
		return err
	}
	return s.submit(ctx, r)
}

// pruneStmts are the statements of a prune transaction, prepared once for it on the
// writer connection.
type pruneStmts struct {
	msg, content, queued, putText, delDoc, delText, strip, resolved *sql.Stmt
}

func (w *writer) prepPrune() (*pruneStmts, error) {
	st := &pruneStmts{}
	for _, p := range []struct {
		to **sql.Stmt
		q  string
	}{
		{&st.msg, `SELECT channel, status, received_at, error FROM messages WHERE id = ?`},
		{&st.content, `SELECT raw, transformed FROM contents WHERE message_id = ?`},
		{&st.queued, `SELECT queue_id FROM deliveries WHERE id BETWEEN ? AND ? AND status = 'QUEUED'`},
		{&st.putText, `INSERT INTO "" (docid, body) VALUES (?, ?)`},
		{&st.delDoc, `DELETE FROM search WHERE docid = ?`},
		{&st.delText, `DELETE FROM "" WHERE docid = ?`},
		{&st.strip, `UPDATE deliveries SET encoded = NULL, sent = NULL, response = NULL, content = NULL WHERE id BETWEEN ? AND ?`},
		{&st.resolved, `SELECT ` + resolvedSQL + ` FROM messages m WHERE m.id = ?`},
	} {
		stmt, err := w.conn.PrepareContext(context.Background(), p.q)
		if err != nil {
			st.close()
			return nil, err
		}
		*p.to = stmt
	}
	return st, nil
}

func (st *pruneStmts) close() {
	for _, s := range []*sql.Stmt{st.msg, st.content, st.queued, st.putText, st.delDoc, st.delText, st.strip, st.resolved} {
		if s != nil {
			s.Close()
		}
	}
}

// pruneOne removes message id, or strips its content, if p still says so.
func (st *pruneStmts) pruneOne(w *writer, p pruneRule, id, indexed int64, remove bool) (bool, error) {
	var channel, status, errText string
	var recv int64
	err := st.msg.QueryRow(id).Scan(&channel, &status, &recv, &errText)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if channel != p.channel || id > indexed {
		return false, nil
	}
	reprocessed := false
	if status == string(engine.StatusError) {
		if err := st.resolved.QueryRow(id).Scan(&reprocessed); err != nil {
			return false, err
		}
	}
	if remove && !p.removes(status, reprocessed, recv) || !remove && !p.strips(status, reprocessed, recv) {
		return false, nil
	}
	had, err := st.unindex(id, errText, indexed)
	if err != nil {
		return false, err
	}
	if !remove {
		if _, err := st.strip.Exec(id<<8, id<<8|0xff); err != nil {
			return false, err
		}
		_, err = w.delContent.Exec(id)
		return had, err
	}
	// A queued delivery removed (at max) leaves its queue's depth.
	rows, err := st.queued.Query(id<<8, id<<8|0xff)
	if err != nil {
		return false, err
	}
	var queued []int64
	for rows.Next() {
		var q int64
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return false, err
		}
		queued = append(queued, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if _, err := w.delDels.Exec(id<<8, id<<8|0xff); err != nil {
		return false, err
	}
	if _, err := w.delContent.Exec(id); err != nil {
		return false, err
	}
	if _, err := w.delMsg.Exec(id); err != nil {
		return false, err
	}
	for _, q := range queued {
		w.qCounts(q).add(string(engine.StatusQueued), -1)
	}
	return true, nil
}

// unindex deletes message id's words from the full-text index, if it has content
// (reporting whether it had) and was indexed (id <= indexed). FTS4 reads the text to
// delete from the table named "", where it is put for the moment (schema.go).
func (st *pruneStmts) unindex(id int64, errText string, indexed int64) (bool, error) {
	var raw, transformed []byte
	err := st.content.QueryRow(id).Scan(&raw, &transformed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if id > indexed {
		return true, nil // not in the index (yet): nothing to delete
	}
	if _, err := st.putText.Exec(id, indexBody(errText, raw, transformed)); err != nil {
		return false, err
	}
	if _, err := st.delDoc.Exec(id); err != nil {
		return false, err
	}
	_, err = st.delText.Exec(id)
	return true, err
}

// unindexMessage is unindex for a message about to be removed (RemoveMessage).
func (w *writer) unindexMessage(id int64) error {
	var errText string
	var indexed int64
	if err := w.conn.QueryRowContext(context.Background(), `SELECT error FROM messages WHERE id = ?`, id).Scan(&errText); err != nil {
		return err
	}
	if err := w.indexedTo.QueryRow().Scan(&indexed); err != nil {
		return err
	}
	st, err := w.prepPrune()
	if err != nil {
		return err
	}
	defer st.close()
	_, err = st.unindex(id, errText, indexed)
	return err
}
