package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

// A store from before login sessions were kept is upgraded on open with its messages
// intact; a session then survives closing and opening the store again, and only the
// SHA-256 of its id is in the file.
func TestAStoreFromBeforeSessionsIsUpgradedAndASessionSurvivesReopening(t *testing.T) {
	at := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE sessions") })
	if at < 0 {
		t.Fatal("no migration creates the sessions table")
	}
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:at]), "PRAGMA user_version = "+strconv.Itoa(at),
		`INSERT INTO messages (id, channel, status, received_at, data_type, control_id, source_domain, org_code, error)
			VALUES (1, 'adt', 'FILTERED', 1700000000000000000, 'Hl7v2', 'OLD1', 'lab', 'RX1', '')`,
		`INSERT INTO contents (message_id, raw) VALUES (1, 'MSH|^~\&|A|B|C|D|2024||ADT^A01|OLD1|P|2.4')`,
	) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := get(t, s, 1); d.ControlID != "OLD1" {
		t.Fatalf("the old message: %+v", d)
	}
	now := time.Now()
	rec := engine.SessionRecord{Hash: sha256.Sum256([]byte("the-session-id")), User: "otto", Role: "operator", Stamp: "st1",
		Created: now, LastSeen: now, Expires: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.SessionByHash(ctx, rec.Hash)
	if err != nil || got.User != "otto" || got.Role != "operator" || got.Stamp != "st1" || !got.Expires.Equal(rec.Expires) {
		t.Fatalf("the session after reopening: %+v %v", got, err)
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE hash = ? OR CAST(hash AS TEXT) LIKE '%the-session-id%'`, "the-session-id").Scan(&n); err != nil || n != 0 {
		t.Errorf("the session id itself is in the store: %d rows %v", n, err)
	}
}

// Sessions are found by hash, touched, listed, revoked one at a time or a user's all at
// once (each logged), and ended ones are deleted a batch at a time.
func TestSessionsAreRevokedAndEndedOnesDeletedInBatches(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	now := time.Now()
	mk := func(id, user string, seen, expires time.Time) engine.SessionRecord {
		r := engine.SessionRecord{Hash: sha256.Sum256([]byte(id)), User: user, Role: "viewer", Created: seen, LastSeen: seen, Expires: expires}
		if err := s.CreateSession(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	live := mk("a", "alice", now, now.Add(time.Hour))
	mk("b", "bob", now, now.Add(time.Hour))
	mk("b2", "bob", now, now.Add(time.Hour))
	expired := mk("c", "carol", now.Add(-2*time.Hour), now.Add(-time.Hour))
	idle := mk("d", "dave", now.Add(-time.Hour), now.Add(time.Hour))
	idle2 := mk("e", "erin", now.Add(-time.Hour), now.Add(time.Hour))

	later := now.Add(time.Minute)
	if err := s.TouchSession(ctx, live.Hash, later); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, live.Hash); err != nil || !got.LastSeen.Equal(later) {
		t.Errorf("touched: %+v %v", got, err)
	}
	if _, err := s.SessionByHash(ctx, sha256.Sum256([]byte("nope"))); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown session: %v", err)
	}
	// Ended: expired, or idle since before the cut-off; two at a time.
	n1, err := s.DeleteEndedSessions(ctx, now, now.Add(-30*time.Minute), 2)
	if err != nil || n1 != 2 {
		t.Fatalf("first batch: %d %v", n1, err)
	}
	n2, err := s.DeleteEndedSessions(ctx, now, now.Add(-30*time.Minute), 2)
	if err != nil || n2 != 1 {
		t.Fatalf("second batch: %d %v", n2, err)
	}
	for _, r := range []engine.SessionRecord{expired, idle, idle2} {
		if _, err := s.SessionByHash(ctx, r.Hash); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the ended session of %s is still there: %v", r.User, err)
		}
	}
	list, err := s.Sessions(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	n, err := s.DeleteUserSessions(ctx, "bob", "by alice (admin): revoked the sessions of bob")
	if err != nil || n != 2 {
		t.Fatalf("bob's sessions: %d %v", n, err)
	}
	if ev, err := s.LastEvent(ctx, "sessions-revoked"); err != nil || !strings.Contains(ev.Detail, "revoked the sessions of bob (2 session(s))") {
		t.Errorf("the revocation is not in the audit trail: %+v %v", ev, err)
	}
	if err := s.DeleteSession(ctx, live.Hash, "by bob (admin): revoked a session of alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, live.Hash, ""); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
	if list, err := s.Sessions(ctx); err != nil || len(list) != 0 {
		t.Errorf("left: %+v %v", list, err)
	}
}
