package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"junction/engine"
)

// Login sessions of the operator UI (engine.SessionKeeper), in the sessions table: the
// SHA-256 of each session id, never the id. Writes go through the writer like every
// other write.

var _ engine.SessionKeeper = (*Store)(nil)

// CreateSession implements engine.SessionKeeper.
func (s *Store) CreateSession(ctx context.Context, rec engine.SessionRecord) error {
	if rec.User == "" || rec.Role == "" {
		return errors.New("sqlite: CreateSession: empty user or role")
	}
	h := append([]byte(nil), rec.Hash[:]...)
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`INSERT INTO sessions (hash, user, role, stamp, created, last_seen, expires) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			h, rec.User, rec.Role, rec.Stamp, rec.Created.UnixNano(), rec.LastSeen.UnixNano(), rec.Expires.UnixNano()); err != nil {
			return fmt.Errorf("sqlite: CreateSession: %w", err), nil
		}
		return nil, nil
	})})
}

const sessionCols = `SELECT hash, user, role, stamp, created, last_seen, expires FROM sessions `

func scanSession(sc interface{ Scan(...any) error }) (engine.SessionRecord, error) {
	var r engine.SessionRecord
	var h []byte
	var created, seen, expires int64
	if err := sc.Scan(&h, &r.User, &r.Role, &r.Stamp, &created, &seen, &expires); err != nil {
		return r, err
	}
	copy(r.Hash[:], h)
	r.Created, r.LastSeen, r.Expires = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return r, nil
}

// SessionByHash implements engine.SessionKeeper.
func (s *Store) SessionByHash(ctx context.Context, hash [32]byte) (engine.SessionRecord, error) {
	var r engine.SessionRecord
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanSession(tx.QueryRowContext(ctx, sessionCols+`WHERE hash = ?`, hash[:]))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("no such session: %w", engine.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: SessionByHash: %w", err)
	}
	return r, nil
}

// TouchSession implements engine.SessionKeeper.
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, at time.Time) error {
	h := append([]byte(nil), hash[:]...)
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		if _, err := w.exec(`UPDATE sessions SET last_seen = ? WHERE hash = ?`, at.UnixNano(), h); err != nil {
			return fmt.Errorf("sqlite: TouchSession: %w", err), nil
		}
		return nil, nil
	})})
}

// DeleteSession implements engine.SessionKeeper.
func (s *Store) DeleteSession(ctx context.Context, hash [32]byte, detail string) error {
	h := append([]byte(nil), hash[:]...)
	at := time.Now().UnixNano()
	return s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		res, err := w.exec(`DELETE FROM sessions WHERE hash = ?`, h)
		if err != nil {
			return fmt.Errorf("sqlite: DeleteSession: %w", err), nil
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no such session: %w", engine.ErrNotFound), nil
		}
		if detail != "" {
			if _, err := w.insEvent.Exec(at, 0, "", "", "session-revoked", detail); err != nil {
				return nil, fmt.Errorf("sqlite: DeleteSession: event: %w", err)
			}
		}
		return nil, nil
	})})
}

// DeleteUserSessions implements engine.SessionKeeper.
func (s *Store) DeleteUserSessions(ctx context.Context, user, detail string) (int, error) {
	at := time.Now().UnixNano()
	var n int64
	err := s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		res, err := w.exec(`DELETE FROM sessions WHERE user = ?`, user)
		if err != nil {
			return fmt.Errorf("sqlite: DeleteUserSessions: %w", err), nil
		}
		n, _ = res.RowsAffected()
		if detail != "" {
			if _, err := w.insEvent.Exec(at, 0, "", "", "sessions-revoked", fmt.Sprintf("%s (%d session(s))", detail, n)); err != nil {
				return nil, fmt.Errorf("sqlite: DeleteUserSessions: event: %w", err)
			}
		}
		return nil, nil
	})})
	return int(n), err
}

// Sessions implements engine.SessionKeeper.
func (s *Store) Sessions(ctx context.Context) ([]engine.SessionRecord, error) {
	out := []engine.SessionRecord{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, sessionCols+`ORDER BY created DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanSession(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: Sessions: %w", err)
	}
	return out, nil
}

// DeleteEndedSessions implements engine.SessionKeeper.
func (s *Store) DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error) {
	var n int64
	err := s.submit(ctx, &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
		res, err := w.exec(`DELETE FROM sessions WHERE hash IN
			(SELECT hash FROM sessions WHERE expires <= ? OR last_seen <= ? LIMIT ?)`, now.UnixNano(), idleSince.UnixNano(), limit)
		if err != nil {
			return fmt.Errorf("sqlite: DeleteEndedSessions: %w", err), nil
		}
		n, _ = res.RowsAffected()
		return nil, nil
	})})
	return int(n), err
}
