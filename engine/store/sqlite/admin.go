package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"junction/engine"
)

// Admin operations: removing a message, API tokens, finding the last event of a kind.
// Writes go through the writer (opFunc) like every other write.

// exec runs SQL on the writer connection, inside the writer's transaction.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	return w.conn.ExecContext(context.Background(), query, args...)
}

// RemoveMessage implements engine.MessageRemover.
func (s *Store) RemoveMessage(ctx context.Context, id int64, force bool, detail string) error {
	if id <= 0 {
		return fmt.Errorf("message %d: %w", id, engine.ErrNotFound)
	}
	at := time.Now().UnixNano()
	r := &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		ctx := context.Background()
		var channel string
		if err := w.conn.QueryRowContext(ctx, `SELECT channel FROM messages WHERE id = ?`, id).Scan(&channel); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("message %d: %w", id, engine.ErrNotFound), nil
			}
			return fmt.Errorf("sqlite: RemoveMessage: %w", err), nil
		}
		type del struct {
			queue        int64
			status, dest string
		}
		var dels []del
		rows, err := w.conn.QueryContext(ctx, `SELECT d.queue_id, d.status, q.destination FROM deliveries d
			JOIN queues q ON q.id = d.queue_id WHERE d.id BETWEEN ? AND ?`, id<<8, id<<8|0xff)
		if err != nil {
			return fmt.Errorf("sqlite: RemoveMessage: %w", err), nil
		}
		for rows.Next() {
			var d del
			if err := rows.Scan(&d.queue, &d.status, &d.dest); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: RemoveMessage: %w", err), nil
			}
			dels = append(dels, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: RemoveMessage: %w", err), nil
		}
		var queued []string
		for _, d := range dels {
			if d.status == string(engine.StatusQueued) {
				queued = append(queued, d.dest)
			}
		}
		if len(queued) > 0 && !force {
			return fmt.Errorf("message %d: %w (%s): wait for them, or force", id, engine.ErrQueuedDeliveries, strings.Join(queued, ", ")), nil
		}
		// Writes: any failure from here on is fatal (the batch is retried without this).
		for _, q := range []string{
			`DELETE FROM deliveries WHERE id BETWEEN ? AND ?`,
		} {
			if _, err := w.exec(q, id<<8, id<<8|0xff); err != nil {
				return nil, fmt.Errorf("sqlite: RemoveMessage: %w", err)
			}
		}
		if err := w.unindexMessage(id); err != nil { // prune.go: its words leave the index
			return nil, fmt.Errorf("sqlite: RemoveMessage: %w", err)
		}
		for _, q := range []string{
			`DELETE FROM contents WHERE message_id = ?`,
			`DELETE FROM messages WHERE id = ?`,
		} {
			if _, err := w.exec(q, id); err != nil {
				return nil, fmt.Errorf("sqlite: RemoveMessage: %w", err)
			}
		}
		for _, d := range dels {
			w.qCounts(d.queue).add(d.status, -1)
		}
		note := detail
		if len(queued) > 0 {
			note += "; forced with queued deliveries to " + strings.Join(queued, ", ")
		}
		if _, err := w.insEvent.Exec(at, id, channel, "", "remove", note); err != nil {
			return nil, fmt.Errorf("sqlite: RemoveMessage: event: %w", err)
		}
		return nil, nil
	})}
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	s.recent.remove(id) // its content must not outlive it, even in memory
	return nil
}

// CreateToken implements engine.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t engine.APIToken, hash [32]byte, detail string) error {
	if t.Name == "" || t.Role == "" {
		return errors.New("sqlite: CreateToken: empty name or role")
	}
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	h := append([]byte(nil), hash[:]...)
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		var n int
		if err := w.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM api_tokens WHERE name = ?`, t.Name).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: CreateToken: %w", err), nil
		}
		if n > 0 {
			return fmt.Errorf("a token named %q exists: %w", t.Name, engine.ErrDuplicate), nil
		}
		if _, err := w.exec(`INSERT INTO api_tokens (name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
			t.Name, t.Role, h, t.Created.UnixNano(), t.CreatedBy); err != nil {
			return fmt.Errorf("sqlite: CreateToken: %w", err), nil
		}
		if _, err := w.insEvent.Exec(t.Created.UnixNano(), 0, "", "", "token-created", detail); err != nil {
			return nil, fmt.Errorf("sqlite: CreateToken: event: %w", err)
		}
		return nil, nil
	})})
}

// DeleteToken implements engine.TokenStore.
func (s *Store) DeleteToken(ctx context.Context, name, detail string) error {
	at := time.Now().UnixNano()
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		res, err := w.exec(`DELETE FROM api_tokens WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("sqlite: DeleteToken: %w", err), nil
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no token is named %q: %w", name, engine.ErrNotFound), nil
		}
		if _, err := w.insEvent.Exec(at, 0, "", "", "token-revoked", detail); err != nil {
			return nil, fmt.Errorf("sqlite: DeleteToken: event: %w", err)
		}
		return nil, nil
	})})
}

// TouchToken implements engine.TokenStore.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`UPDATE api_tokens SET last_used = ? WHERE name = ?`, at.UnixNano(), name); err != nil {
			return fmt.Errorf("sqlite: TouchToken: %w", err), nil
		}
		return nil, nil
	})})
}

func scanToken(sc interface{ Scan(...any) error }) (engine.APIToken, error) {
	var t engine.APIToken
	var created, used int64
	if err := sc.Scan(&t.Name, &t.Role, &created, &t.CreatedBy, &used); err != nil {
		return t, err
	}
	t.Created = fromNanos(created)
	if used != 0 {
		u := fromNanos(used)
		t.LastUsed = &u
	}
	return t, nil
}

const tokenCols = `SELECT name, role, created_at, created_by, last_used FROM api_tokens `

// Tokens implements engine.TokenStore.
func (s *Store) Tokens(ctx context.Context) ([]engine.APIToken, error) {
	out := []engine.APIToken{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, tokenCols+`ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: Tokens: %w", err)
	}
	return out, nil
}

// TokenByHash implements engine.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash [32]byte) (engine.APIToken, error) {
	var t engine.APIToken
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, tokenCols+`WHERE hash = ?`, hash[:]))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("no such token: %w", engine.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: TokenByHash: %w", err)
	}
	return t, nil
}

// LastEvent implements engine.EventFinder.
func (s *Store) LastEvent(ctx context.Context, kind string) (engine.Event, error) {
	var evs []engine.Event
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		evs, err = readEvents(ctx, tx, `WHERE kind = ? ORDER BY id DESC LIMIT 1`, kind)
		return err
	})
	if err != nil {
		return engine.Event{}, fmt.Errorf("sqlite: LastEvent: %w", err)
	}
	if len(evs) == 0 {
		return engine.Event{}, fmt.Errorf("no %s event: %w", kind, engine.ErrNotFound)
	}
	return evs[0], nil
}
