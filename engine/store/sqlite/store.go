// Package sqlite is Junction's embedded message store: an engine.Store kept in one SQLite
// file in WAL mode.
//
// All writes (Accept, Record, AcquireQueue, ReleaseQueue) go through one writer goroutine
// that owns the only write connection and commits whatever is pending in one transaction
// (group commit): concurrent callers share a single fsync. Reads use a separate pool of
// read-only connections and never wait for the writer.
package sqlite

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

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/engine"
	"junction/internal/sqlitefile"
)

// Options tune a Store. The zero value is a good default.
type Options struct {
	// ReadConns is the number of read-only connections (default 4).
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another connection or
	// process before failing (default 5s).
	BusyTimeout time.Duration
	// MaxBatch caps how many queued writes one transaction takes (default 512).
	MaxBatch int
	// NoIndexer turns the background full-text indexer off (search then finds only
	// what was indexed before). For tests and benchmarks of the write path alone.
	NoIndexer bool
	// PageSize is the page size of a newly created database file (default 4096). It has
	// no effect on an existing file. 16 KiB pages store ~10% fewer bytes per message, but
	// every commit writes whole pages to the WAL: at low concurrency, where a commit holds
	// one message, 4 KiB pages halve the bytes written and the latency.
	PageSize int
	// QuickCheckMax is the largest store (file and WAL, in bytes) whose every page Open
	// reads with PRAGMA quick_check (default DefaultQuickCheckMax, 1 GiB: about a second
	// from the page cache); a bigger one gets a bounded check (integrity.go). Negative:
	// the bounded check always.
	QuickCheckMax int64
}

const defaultPageSize = 4096

func (o Options) withDefaults() Options {
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.PageSize <= 0 {
		o.PageSize = defaultPageSize
	}
	if o.QuickCheckMax == 0 {
		o.QuickCheckMax = DefaultQuickCheckMax
	}
	return o
}

// Store is the SQLite engine.Store.
type Store struct {
	path string
	opts Options

	wdb   *sql.DB   // pool of exactly one connection: the writer's
	wconn *sql.Conn // pinned writer connection, used only by the writer goroutine (and Close)
	rdb   *sql.DB   // read-only pool
	// pending and pendingIDs are prepared once: queue workers run them in a loop.
	pending, pendingIDs *sql.Stmt
	// recent holds the content of messages accepted here and not yet delivered.
	recent *recentContent

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	shut   atomic.Bool // set by Close; read without the lock by readers
	reqs   chan *request
	idle   chan *request // low-priority work (the indexer's), taken when reqs is empty

	// The full-text indexer (search.go).
	idxKick   chan struct{} // the writer committed new messages
	idxCancel context.CancelFunc
	idxDone   chan struct{}
	indexedTo atomic.Int64
	idxStarve time.Duration // indexStarve when opened

	prune pruneState // what retention passes remember (prune.go)

	w          *writer // owned by the writer goroutine; kept here for tests
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	// Counters for tests and benchmarks.
	commits atomic.Uint64 // transactions committed by the writer
	items   atomic.Uint64 // requests answered by the writer
	// commitObs is told of each commit (metrics.go); nil: nobody is.
	commitObs atomic.Pointer[CommitObserver]
}

var _ engine.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path, creating its parent directory too,
// checks its integrity and migrates the schema. It refuses a file that is not a Junction
// message store, a corrupt one, and a read-only place (errors.Is ErrNotStore, ErrCorrupt,
// ErrReadOnly), naming the file; see integrity.go.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, openError(abs, err)
	}
	s := &Store{
		path:       abs,
		opts:       opts,
		reqs:       make(chan *request, 4*opts.MaxBatch),
		idle:       make(chan *request),
		idxKick:    make(chan struct{}, 1),
		idxStarve:  indexStarve,
		recent:     newRecentContent(),
		writerDone: make(chan struct{}),
	}
	if err := s.open(); err != nil {
		s.closeDBs()
		return nil, openError(abs, err)
	}
	w, err := newWriter(s)
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.w = w
	go w.run()
	ictx, cancel := context.WithCancel(context.Background())
	s.idxCancel, s.idxDone = cancel, make(chan struct{})
	if opts.NoIndexer {
		close(s.idxDone)
	} else {
		go s.runIndexer(ictx)
	}
	return s, nil
}

func (s *Store) open() error {
	ctx := context.Background()
	var err error
	s.wdb, err = sqlitefile.OpenWriter(s.path, s.opts.BusyTimeout, url.Values{"_foreign_keys": {"1"}})
	if err != nil {
		return err
	}
	s.wconn, err = s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	// Before anything writes to the file: a foreign one is refused unchanged.
	if _, err := checkIdentity(ctx, s.wconn, s.path); err != nil {
		return err
	}
	// page_size only takes effect before the file is initialised, so it must come before
	// journal_mode (which writes the header). It is a no-op on an existing database.
	if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", s.opts.PageSize)); err != nil {
		return fmt.Errorf("page_size: %w", err)
	}
	if err := setAutoVacuum(ctx, s.wconn); err != nil { // prune.go; before journal_mode too
		return err
	}
	if err := sqlitefile.UseWAL(ctx, s.wconn); err != nil {
		return err
	}
	for _, p := range []string{
		"PRAGMA temp_store = MEMORY",
		// Checkpoints run on the writer connection right after a commit once the WAL
		// holds this many pages (the default; 16 MiB with 16 KiB pages). A background
		// checkpointer was tried: no measurable gain, and under steady load the WAL
		// then rarely restarts.
		"PRAGMA wal_autocheckpoint = 1000",
		"PRAGMA cache_size = -32768", // 32 MiB
		// Keep the WAL file from growing without bound after a burst.
		"PRAGMA journal_size_limit = 67108864",
	} {
		if _, err := s.wconn.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := startCheck(ctx, s.wconn, s.path, s.opts.QuickCheckMax); err != nil {
		return err
	}
	if err := migrate(ctx, s.wconn); err != nil {
		return err
	}

	s.rdb, err = sqlitefile.OpenReader(s.path, s.opts.ReadConns, s.opts.BusyTimeout)
	if err != nil {
		return err
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return err
	}
	if s.pending, err = s.rdb.PrepareContext(ctx, pendingSQL); err != nil {
		return err
	}
	s.pendingIDs, err = s.rdb.PrepareContext(ctx, pendingIDsSQL)
	return err
}

func (s *Store) closeDBs() {
	if s.rdb != nil {
		s.rdb.Close()
	}
	if s.wconn != nil {
		s.wconn.Close()
	}
	if s.wdb != nil {
		s.wdb.Close()
	}
}

// WriterCounts reports how many transactions the writer has committed and how many
// requests it has answered since the store was opened (requests/commits is the group
// commit's batch size).
func (s *Store) WriterCounts() (commits, requests uint64) {
	return s.commits.Load(), s.items.Load()
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// SizeBytes returns the size of the database file plus its write-ahead log.
func (s *Store) SizeBytes() (int64, error) {
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// Close stops accepting writes, commits everything already queued, checkpoints the WAL
// into the database file and closes it. Calls after the first return the first's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// The indexer first: its requests must not meet a closed writer.
		s.idxCancel()
		<-s.idxDone
		s.shut.Store(true)
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.writerDone

		var errs []error
		if s.pendingIDs != nil {
			s.pendingIDs.Close()
		}
		if s.pending != nil {
			s.pending.Close()
		}
		if err := s.rdb.Close(); err != nil {
			errs = append(errs, err)
		}
		// Busy (another process reading) only means the WAL stays for next time.
		if err := s.checkpoint(context.Background(), "TRUNCATE"); err != nil && !errors.Is(err, errCheckpointBusy) {
			errs = append(errs, err)
		}
		if err := s.wconn.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := s.wdb.Close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// checkpoint runs PRAGMA wal_checkpoint on the writer connection. Only call it while the
// writer goroutine is not running a batch (after it stopped, or from tests when idle).
func (s *Store) checkpoint(ctx context.Context, mode string) error {
	var busy, log, done int
	err := s.wconn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done)
	if err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	if busy != 0 {
		return errCheckpointBusy
	}
	return nil
}

// errCheckpointBusy: a checkpoint could not complete because of other connections.
var errCheckpointBusy = errors.New("sqlite: checkpoint incomplete: database busy")

// isUnique reports whether err is a UNIQUE constraint failure.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// nanos converts t to unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos; times come back in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
