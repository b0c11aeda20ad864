package fhirstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver

	"junction/internal/sqlitefile"
)

// readConns is the size of the read pool: searches and reads run in parallel with each
// other and with the writer (WAL readers never wait for it).
const readConns = 4

// Store is a FHIR resource store in one SQLite file. It is safe for concurrent use.
type Store struct {
	path string
	wdb  *sql.DB // exactly one connection: writes are serialised here, not by SQLite locks
	rdb  *sql.DB // read-only pool
	w    writeStmts

	lastStamp atomic.Int64 // the last transaction's lastUpdated (apply.go, nextStamp)

	closeOnce sync.Once
	closeErr  error
}

// writeStmts are prepared once on the writer's connection; Apply runs them per entry.
type writeStmts struct {
	current, insResource, updResource, insVersion *sql.Stmt
	delIndex, insIndex                            [4]*sql.Stmt // by kind
}

// Open opens the store at path, creating the file (and its folder) and the schema if
// needed, after checking its integrity. It refuses a file that is not a Junction FHIR
// store, a corrupt one, and a read-only place (errors.Is ErrNotStore, ErrCorrupt,
// ErrReadOnly), naming the file; see schema.go.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("fhirstore: empty path (expected a SQLite file name such as data/fhir.db)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("fhirstore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, openError(abs, err)
	}
	s := &Store{path: abs}
	if err := s.open(context.Background()); err != nil {
		s.closeDBs()
		return nil, openError(abs, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	// Another process (a backup, sqlite3) may hold a lock briefly; a stored version
	// survives power loss, as the message log does; the write lock is taken at BEGIN, so
	// no upgrade deadlocks.
	var err error
	if s.wdb, err = sqlitefile.OpenWriter(s.path, 5*time.Second, url.Values{"_txlock": {"immediate"}}); err != nil {
		return err
	}
	// Before anything writes to the file: a foreign one is refused unchanged.
	if _, err := checkIdentity(ctx, s.wdb, s.path); err != nil {
		return err
	}
	if err := sqlitefile.UseWAL(ctx, s.wdb); err != nil {
		return err
	}
	for _, p := range []string{
		"PRAGMA temp_store = MEMORY",
		"PRAGMA cache_size = -16384",           // 16 MiB
		"PRAGMA journal_size_limit = 67108864", // the WAL shrinks back after a burst
	} {
		if _, err := s.wdb.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := startCheck(ctx, s.wdb, s.path, quickCheckMax); err != nil {
		return err
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}

	if s.rdb, err = sqlitefile.OpenReader(s.path, readConns, 5*time.Second); err != nil {
		return err
	}
	return s.rdb.PingContext(ctx)
}

var indexTables = [4]string{kindString: "idx_string", kindToken: "idx_token", kindDate: "idx_date", kindReference: "idx_reference"}

func (s *Store) prepare(ctx context.Context) error {
	stmts := []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.w.current, `SELECT rid, version, updated, deleted, hash FROM resource WHERE type = ? AND id = ?`},
		{&s.w.insResource, `INSERT INTO resource (type, id, version, updated, deleted, hash) VALUES (?, ?, 1, ?, 0, ?) RETURNING rid`},
		{&s.w.updResource, `UPDATE resource SET version = ?, updated = ?, deleted = ?, hash = ? WHERE rid = ?`},
		{&s.w.insVersion, `INSERT INTO version (vid, updated, method, json) VALUES (?, ?, ?, ?)`},
		{&s.w.insIndex[kindString], `INSERT OR IGNORE INTO idx_string (rid, type, param, norm, raw) VALUES (?, ?, ?, ?, ?)`},
		{&s.w.insIndex[kindToken], `INSERT OR IGNORE INTO idx_token (rid, type, param, system, code) VALUES (?, ?, ?, ?, ?)`},
		{&s.w.insIndex[kindDate], `INSERT OR IGNORE INTO idx_date (rid, type, param, lo, hi) VALUES (?, ?, ?, ?, ?)`},
		{&s.w.insIndex[kindReference], `INSERT OR IGNORE INTO idx_reference (rid, type, param, ref_type, ref_id) VALUES (?, ?, ?, ?, ?)`},
	}
	for k, table := range indexTables {
		stmts = append(stmts, struct {
			dst **sql.Stmt
			sql string
		}{&s.w.delIndex[k], "DELETE FROM " + table + " WHERE rid = ?"})
	}
	for _, st := range stmts {
		var err error
		if *st.dst, err = s.wdb.PrepareContext(ctx, st.sql); err != nil {
			return fmt.Errorf("preparing %q: %w", st.sql, err)
		}
	}
	return nil
}

// Path is the absolute path of the SQLite file.
func (s *Store) Path() string { return s.path }

// Close waits for a running Apply, checkpoints the write-ahead log into the file and
// closes it. Calls after the first return the first's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.rdb != nil {
			errs = append(errs, s.rdb.Close())
		}
		// A busy checkpoint (another process reading) only leaves the WAL for next time.
		if _, err := s.wdb.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, fmt.Errorf("fhirstore: checkpoint: %w", err))
		}
		errs = append(errs, s.wdb.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Store) closeDBs() {
	if s.rdb != nil {
		s.rdb.Close()
	}
	if s.wdb != nil {
		s.wdb.Close()
	}
}
