package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// SetChannelState implements engine.ChannelStateStore: the state and its "channel-STATE"
// event are written in one transaction.
func (s *Store) SetChannelState(ctx context.Context, channel, state, detail string) error {
	if channel == "" || state == "" {
		return errors.New("sqlite: SetChannelState: empty channel or state")
	}
	at := time.Now().UnixNano()
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`INSERT INTO channel_state (channel, state, changed_at, changed_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (channel) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at, changed_by = excluded.changed_by`,
			channel, state, at, detail); err != nil {
			return fmt.Errorf("sqlite: SetChannelState: %w", err), nil
		}
		if _, err := w.insEvent.Exec(at, 0, channel, "", "channel-"+state, detail); err != nil {
			return nil, fmt.Errorf("sqlite: SetChannelState: event: %w", err)
		}
		return nil, nil
	})})
}

// ChannelStates implements engine.ChannelStateStore.
func (s *Store) ChannelStates(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT channel, state FROM channel_state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ch, st string
			if err := rows.Scan(&ch, &st); err != nil {
				return err
			}
			out[ch] = st
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: ChannelStates: %w", err)
	}
	return out, nil
}

var _ engine.ChannelStateStore = (*Store)(nil)
