package sqlite

import (
	"context"
	"errors"
	"fmt"

	"junction/engine"
)

// Routing of an accepted message: one deliveries row per destination, QUEUED for those
// that get it (NewMessage.Destinations, ordinals 0..n-1) and final for those their
// filter left out (FILTERED) or whose filter failed (ERROR) (NewMessage.Skipped, the
// ordinals after), with the reason in last_error.

// acceptRoutes checks a TRANSFORMED message's destinations and fills a's, with the
// status the message is stored with: the aggregate of its deliveries (see aggregate), or
// TRANSFORMED when it has none.
func acceptRoutes(a *acceptOp, m *engine.NewMessage) error {
	if n := len(m.Destinations) + len(m.Skipped); n > maxDestinations {
		return fmt.Errorf("sqlite: Accept: %d destinations, at most %d", n, maxDestinations)
	}
	seen := make(map[string]bool, len(m.Destinations)+len(m.Skipped))
	check := func(d string) error {
		if d == "" {
			return errors.New("sqlite: Accept: empty destination name")
		}
		if seen[d] {
			return fmt.Errorf("sqlite: Accept: destination %q listed twice", d)
		}
		seen[d] = true
		return nil
	}
	for _, d := range m.Destinations {
		if err := check(d); err != nil {
			return err
		}
	}
	statuses := make([]string, 0, len(m.Destinations)+len(m.Skipped))
	for _, sk := range m.Skipped {
		if err := check(sk.Name); err != nil {
			return err
		}
		if sk.Status != engine.StatusFiltered && sk.Status != engine.StatusError {
			return fmt.Errorf("sqlite: Accept: skipped destination %q is %q, want FILTERED or ERROR", sk.Name, sk.Status)
		}
		statuses = append(statuses, string(sk.Status))
	}
	if len(m.Destinations) > 0 {
		a.destinations = append([]string(nil), m.Destinations...)
		statuses = append(statuses, string(engine.StatusQueued))
	}
	if len(m.Skipped) > 0 {
		a.skipped = append([]engine.SkippedDestination(nil), m.Skipped...)
	}
	if len(statuses) > 0 {
		a.status = aggregate(statuses, func(s string) string { return s })
	}
	return nil
}

// insertDeliveries inserts the deliveries rows of an accepted message id. A failure
// undoes the message's rows (itemErr); if that fails too, fatal: the batch is retried
// without it.
func (w *writer) insertDeliveries(a *acceptOp, id int64) (itemErr, fatal error) {
	n := len(a.destinations)
	for i := 0; i < n+len(a.skipped); i++ {
		name, status, reason := "", string(engine.StatusQueued), ""
		if i < n {
			name = a.destinations[i]
		} else {
			sk := &a.skipped[i-n]
			name, status, reason = sk.Name, string(sk.Status), sk.Reason
		}
		var err error
		if w.hook != nil {
			err = w.hook(a, "delivery")
		}
		if err == nil {
			_, err = w.insDel.Exec(id<<8|int64(i), w.queueID(queueKey{a.channel, name}), status, a.receivedAt, reason)
		}
		if err != nil {
			err = fmt.Errorf("sqlite: insert delivery %s: %w", name, err)
			// Undo this request's rows; if that fails too, the batch is retried without it.
			if _, e := w.delDels.Exec(id<<8, id<<8|0xff); e != nil {
				return nil, errors.Join(err, e)
			}
			if _, e := w.delContent.Exec(id); e != nil {
				return nil, errors.Join(err, e)
			}
			if _, e := w.delMsg.Exec(id); e != nil {
				return nil, errors.Join(err, e)
			}
			return err, nil
		}
	}
	return nil, nil
}

// resolveQueue makes sure queue k exists and its id is known (see resolveQueues).
func (w *writer) resolveQueue(k queueKey) error {
	if _, ok := w.queues[k]; ok {
		return nil
	}
	if _, ok := w.txQueues[k]; ok {
		return nil
	}
	if _, err := w.insQueue.Exec(k.channel, k.destination); err != nil {
		return fmt.Errorf("sqlite: queue %s/%s: %w", k.channel, k.destination, err)
	}
	var id int64
	if err := w.findQueue.QueryRow(k.channel, k.destination).Scan(&id); err != nil {
		return fmt.Errorf("sqlite: queue %s/%s: %w", k.channel, k.destination, err)
	}
	w.txQueues[k] = id
	return nil
}

// unrouted lists the deliveries of a message its destinations' filters kept from them:
// FILTERED, or ERROR with no attempt made (the filter failed). Resend leaves them out.
func (w *writer) unrouted(messageID int64) (map[int64]bool, error) {
	rows, err := w.conn.QueryContext(context.Background(), `SELECT id FROM deliveries
		WHERE id BETWEEN ? AND ? AND (status = 'FILTERED' OR (status = 'ERROR' AND attempts = 0))`,
		messageID<<8, messageID<<8|0xff)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// destinationReason moves a FILTERED delivery's reason (stored in last_error) to Reason.
func destinationReason(ds *engine.DestinationStatus) {
	if ds.Status == engine.StatusFiltered {
		ds.Reason, ds.LastError = ds.LastError, ""
	}
}
