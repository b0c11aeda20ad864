package engine

import (
	"context"
	"time"
)

// SessionRecord is an operator's login session as a store keeps it. The session id (the
// cookie's value, 256 random bits) is never stored: only its SHA-256, so what the store
// holds cannot be used to act as anyone.
type SessionRecord struct {
	Hash     [32]byte  `json:"-"`
	User     string    `json:"user"`
	Role     string    `json:"role"`
	Stamp    string    `json:"-"` // the account's fingerprint at login: a change of it ends the session
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
}

// SessionKeeper keeps the operator UI's login sessions, so they survive a restart and
// hold on every node sharing the store.
type SessionKeeper interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, rec SessionRecord) error
	// SessionByHash finds a session by the SHA-256 of its id, or wraps ErrNotFound.
	SessionByHash(ctx context.Context, hash [32]byte) (SessionRecord, error)
	// TouchSession sets a session's last use.
	TouchSession(ctx context.Context, hash [32]byte, at time.Time) error
	// DeleteSession ends one session; detail, when not empty, is logged as a
	// "session-revoked" event. An unknown hash wraps ErrNotFound.
	DeleteSession(ctx context.Context, hash [32]byte, detail string) error
	// DeleteUserSessions ends every session of a user and says how many there were; detail,
	// when not empty, is logged as a "sessions-revoked" event.
	DeleteUserSessions(ctx context.Context, user, detail string) (int, error)
	// Sessions lists the sessions, newest first.
	Sessions(ctx context.Context) ([]SessionRecord, error)
	// DeleteEndedSessions removes up to limit sessions that expired or have been idle
	// since before idleSince, and says how many.
	DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error)
}
