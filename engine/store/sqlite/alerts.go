package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// What the alerts read (engine.AlertStore). Each query is bounded by what it answers:
// the queues (one row each, their heads found through the outbox index), the ERROR
// messages of the window (the status index from the window's first id) and one row per
// channel (its newest message through the channel index). None touches the writer.

var _ engine.AlertStore = (*Store)(nil)

// alertQueuesSQL reads every queue with its head, found through the outbox index, and
// the first send that succeeded after its last failed attempt (recoveredSQL).
const alertQueuesSQL = `SELECT q.channel, q.destination, q.queued, q.sent, q.error, q.last_error, q.last_error_at,
	coalesce(d.attempts, 0), coalesce(d.last_error, ''), coalesce(m.received_at, 0),
	CASE WHEN q.last_error_message = 0 OR coalesce(d.attempts, 0) > 0 THEN 0 ELSE coalesce((` + recoveredSQL + `), 0) END
	FROM queues q
	LEFT JOIN deliveries d ON d.id = (SELECT h.id FROM deliveries h WHERE h.queue_id = q.id AND h.status = 'QUEUED' ORDER BY h.id LIMIT 1)
	LEFT JOIN messages m ON m.id = d.id >> 8
	ORDER BY q.id`

// recoveredSQL is when a send of queue q first succeeded after its last failed attempt
// (NULL: none has). It is looked for only when the queue's head is not being retried
// (a head being retried is the failure itself), among the channel's messages from the
// one that failed last up to the head (those after the head are queued, not sent),
// through the channel index and each message's deliveries (a rowid range): the walk
// stops at the first such send, so it reads the messages done since the last failure at
// most.
const recoveredSQL = `SELECT s.updated_at FROM messages a
		JOIN deliveries s ON s.id BETWEEN a.id << 8 AND (a.id << 8) + 255
		WHERE a.channel = q.channel AND a.id >= q.last_error_message AND a.id < coalesce(d.id >> 8, 9223372036854775807)
			AND s.queue_id = q.id AND s.status = 'SENT' AND s.updated_at > q.last_error_at
		ORDER BY a.id LIMIT 1`

// AlertQueues implements engine.AlertStore.
func (s *Store) AlertQueues(ctx context.Context) ([]engine.QueueFacts, error) {
	var out []engine.QueueFacts
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, alertQueuesSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f engine.QueueFacts
			var errAt, oldest, recovered int64
			if err := rows.Scan(&f.Channel, &f.Destination, &f.Queued, &f.Sent, &f.Errors, &f.LastError, &errAt,
				&f.HeadAttempts, &f.HeadError, &oldest, &recovered); err != nil {
				return err
			}
			f.LastErrorAt, f.Oldest, f.RecoveredAt = fromNanos(errAt), fromNanos(oldest), fromNanos(recovered)
			out = append(out, f)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: AlertQueues: %w", err)
	}
	return out, nil
}

// errorCountsSQL counts a window's ERROR messages per channel. It repeats the partial
// index's own condition (status NOT IN ('SENT', 'QUEUED')) so that SQLite may use
// messages_status: a range of the window's ERROR rows, not every message of the window.
const errorCountsSQL = `SELECT channel, count(*) FROM messages
	WHERE status = 'ERROR' AND status NOT IN ('SENT', 'QUEUED') AND id >= ? AND received_at >= ? GROUP BY channel`

// ErrorCounts implements engine.AlertStore.
func (s *Store) ErrorCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		lo, _, err := idBounds(ctx, tx, since, time.Time{})
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, errorCountsSQL, lo, nanos(since))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ch string
			var n int64
			if err := rows.Scan(&ch, &n); err != nil {
				return err
			}
			out[ch] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: ErrorCounts: %w", err)
	}
	return out, nil
}

// lastReceivedSQL reads each channel's newest message through the channel index.
const lastReceivedSQL = `SELECT c.name,
	coalesce((SELECT m.received_at FROM messages m WHERE m.channel = c.name ORDER BY m.id DESC LIMIT 1), 0)
	FROM channels c`

// LastReceived implements engine.AlertStore.
func (s *Store) LastReceived(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, lastReceivedSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ch string
			var at int64
			if err := rows.Scan(&ch, &at); err != nil {
				return err
			}
			if at != 0 {
				out[ch] = fromNanos(at)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: LastReceived: %w", err)
	}
	return out, nil
}

// AlertStates implements engine.AlertStore.
func (s *Store) AlertStates(ctx context.Context) ([]engine.AlertState, error) {
	var out []engine.AlertState
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT alert, subject, channel, destination, since, active_since, notified_at, detail
			FROM alert_state ORDER BY since, alert, subject`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st engine.AlertState
			var since, active, notified int64
			if err := rows.Scan(&st.Alert, &st.Subject, &st.Channel, &st.Destination, &since, &active, &notified, &st.Detail); err != nil {
				return err
			}
			st.Since = fromNanos(since)
			st.ActiveSince, st.Notified = timePtr(active), timePtr(notified)
			out = append(out, st)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: AlertStates: %w", err)
	}
	return out, nil
}

func timePtr(n int64) *time.Time {
	if n == 0 {
		return nil
	}
	t := fromNanos(n)
	return &t
}

func ptrNanos(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return nanos(*t)
}

// PutAlertState implements engine.AlertStore.
func (s *Store) PutAlertState(ctx context.Context, st engine.AlertState, ev *engine.Event) error {
	if st.Alert == "" {
		return errors.New("sqlite: PutAlertState: empty alert name")
	}
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`INSERT INTO alert_state (alert, subject, channel, destination, since, active_since, notified_at, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (alert, subject) DO UPDATE SET channel = excluded.channel, destination = excluded.destination,
				since = excluded.since, active_since = excluded.active_since, notified_at = excluded.notified_at, detail = excluded.detail`,
			st.Alert, st.Subject, st.Channel, st.Destination, nanos(st.Since), ptrNanos(st.ActiveSince), ptrNanos(st.Notified), st.Detail); err != nil {
			return fmt.Errorf("sqlite: PutAlertState: %w", err), nil
		}
		return nil, alertEvent(w, ev)
	})})
}

// DeleteAlertState implements engine.AlertStore.
func (s *Store) DeleteAlertState(ctx context.Context, alert, subject string, ev *engine.Event) error {
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`DELETE FROM alert_state WHERE alert = ? AND subject = ?`, alert, subject); err != nil {
			return fmt.Errorf("sqlite: DeleteAlertState: %w", err), nil
		}
		return nil, alertEvent(w, ev)
	})})
}

// alertEvent logs an alert's firing or clearing in the audit trail; a failure fails the
// transaction (fatal), as SetChannelState's does.
func alertEvent(w *writer, ev *engine.Event) error {
	if ev == nil {
		return nil
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := w.insEvent.Exec(nanos(at), 0, ev.Channel, ev.Destination, ev.Kind, ev.Detail); err != nil {
		return fmt.Errorf("sqlite: alert event: %w", err)
	}
	return nil
}
