package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// resendOp queues deliveries of one message again (Resend). Its answer is the
// destinations queued again.
type resendOp struct {
	messageID    int64
	destinations []string
	content      any // nil or []byte
	detail       string
	at           int64

	names []string // the answer
}

// Resend implements engine.Store.
func (s *Store) Resend(ctx context.Context, rr engine.ResendRequest) ([]string, error) {
	if rr.MessageID <= 0 {
		return nil, fmt.Errorf("sqlite: Resend: message %d: %w", rr.MessageID, engine.ErrNotFound)
	}
	rs := &resendOp{
		messageID:    rr.MessageID,
		destinations: append([]string(nil), rr.Destinations...),
		content:      blobArg(rr.Content),
		detail:       rr.Detail,
		at:           time.Now().UnixNano(),
	}
	if err := s.submit(ctx, &request{op: rs}); err != nil {
		return nil, err
	}
	return rs.names, nil
}

// apply queues chosen deliveries of one message again. Every lookup comes first, so
// an unknown message or destination fails the request before anything is written; a
// failure after the first write leaves the transaction to be retried without it.
func (rs *resendOp) apply(w *writer) (itemErr, fatal error) {
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
	rs.names = names
	return nil, nil
}
