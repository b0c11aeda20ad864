package sqlitefile

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver
)

// Opening a store's file, the one way every SQLite file of Junction is opened (the
// message store, the FHIR store, the benchmark's bare reference): one read-write
// connection for the store's single writer, a pool of read-only ones for readers, WAL.

// DSN is the SQLite URI of the file at path with params.
func DSN(path string, params url.Values) string {
	// SQLite URI: '?' and '#' would end the path, '%' starts an escape.
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + p + "?" + params.Encode()
}

// OpenWriter opens a pool of exactly one read-write connection to the file at path,
// never closed while idle: its prepared statements and page cache stay. Writes wait up
// to busy for a lock another process holds, commit with synchronous=FULL (an accepted
// message survives power loss) and skip the driver's mutex (database/sql never shares a
// connection between goroutines). extra adds or overrides driver parameters
// (_txlock, _foreign_keys…).
func OpenWriter(path string, busy time.Duration, extra url.Values) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_synchronous", "FULL")
	q.Set("_mutex", "no")
	for k, v := range extra {
		q[k] = v
	}
	db, err := sql.Open("sqlite3", DSN(path, q))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// OpenReader opens a pool of up to n read-only connections to the file at path
// (query_only too, so not even a PRAGMA writes), kept open while idle.
func OpenReader(path string, n int, busy time.Duration) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_query_only", "1")
	q.Set("_mutex", "no")
	db, err := sql.Open("sqlite3", DSN(path, q))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// UseWAL puts the file in write-ahead-log mode (readers never wait for the writer) and
// checks it took: on a file system without shared memory it would not.
func UseWAL(ctx context.Context, q Querier) error {
	var mode string
	if err := q.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return nil
}
