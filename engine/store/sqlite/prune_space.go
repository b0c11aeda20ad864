package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"junction/engine"
	"junction/internal/sqlitefile"
)

// Retention's space (prune.go): the file's size, incremental vacuum, and the dry run
// that reads without opening the store for writing.

// setAutoVacuum makes a new file give freed pages back (incremental vacuum); it must run
// before the first table is created, and changes nothing in an existing file.
func setAutoVacuum(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return fmt.Errorf("auto_vacuum: %w", err)
	}
	return nil
}

// Size implements engine.StoreSizer: the database file and its write-ahead log, in bytes.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if s.shut.Load() {
		return 0, engine.ErrStoreClosed
	}
	return s.SizeBytes()
}

// AutoVacuum reports whether the file gives freed pages back to the file system
// (auto_vacuum=INCREMENTAL); a store created before Junction had retention does not.
func (s *Store) AutoVacuum(ctx context.Context) (bool, error) {
	var mode int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return false, fmt.Errorf("sqlite: auto_vacuum: %w", err)
	}
	return mode == 2, nil
}

// vacuum gives free pages back to the file system, pruneVacuumPages per writer request,
// until none are left (or the file does not vacuum incrementally); it returns how many
// bytes the file shrank.
func (s *Store) vacuum(ctx context.Context) (int64, error) {
	on, err := s.AutoVacuum(ctx)
	if err != nil || !on {
		return 0, err
	}
	var free int64
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil || free == 0 {
		return 0, err
	}
	before, _ := s.fileSize()
	prev := int64(-1)
	for {
		r := &request{op: funcOp(func(w *writer) (itemErr, fatal error) {
			rows, err := w.conn.QueryContext(context.Background(), fmt.Sprintf("PRAGMA incremental_vacuum(%d)", pruneVacuumPages))
			if err != nil {
				return nil, fmt.Errorf("sqlite: incremental_vacuum: %w", err)
			}
			// Each step of the statement frees one page: read it to the end.
			for rows.Next() {
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("sqlite: incremental_vacuum: %w", err)
			}
			if err := w.conn.QueryRowContext(context.Background(), "PRAGMA freelist_count").Scan(&free); err != nil {
				return nil, fmt.Errorf("sqlite: freelist_count: %w", err)
			}
			return nil, nil
		})}
		if err := s.submitBackground(ctx, r); err != nil {
			return 0, err
		}
		if free == 0 || free == prev {
			break
		}
		prev = free
	}
	// The file shrinks at the next checkpoint; until then the pages are in the WAL.
	if err := s.submit(ctx, &request{op: &checkpointOp{mode: "PASSIVE"}}); err != nil {
		return 0, err
	}
	after, _ := s.fileSize()
	return max(before-after, 0), nil
}

// fileSize is the size of the database file alone.
func (s *Store) fileSize() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// DryPrune counts what a pass with o would remove from the store at path, through
// read-only connections: it changes nothing, creates nothing, and may run beside the
// process serving from the store. A missing file is an error wrapping os.ErrNotExist.
func DryPrune(ctx context.Context, path string, o engine.PruneOptions) (engine.PruneReport, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return engine.PruneReport{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return engine.PruneReport{}, err
	}
	s := &Store{path: abs}
	s.rdb, err = sqlitefile.OpenReader(abs, 1, 5*time.Second)
	if err != nil {
		return engine.PruneReport{}, err
	}
	defer s.rdb.Close()
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return engine.PruneReport{}, openError(abs, err)
	}
	_, err = checkIdentity(ctx, conn, abs)
	conn.Close()
	if err != nil {
		return engine.PruneReport{}, err
	}
	o.DryRun = true
	return s.Prune(ctx, o)
}
