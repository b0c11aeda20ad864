// Package bareref is the "bare reference" that `junction bench` compares Junction against:
// a plain net/http handler that durably stores every POST body in SQLite with group commit
// and nothing else (no parsing, no routing, no transforms).
//
// Each handler reads its body and hands it to a single writer goroutine over a channel. The
// writer takes whatever is pending (up to MaxBatch), inserts it with one prepared statement
// in one transaction, commits (WAL, synchronous=FULL: the commit fsyncs the WAL), and only
// then answers each request 200 "OK". While a commit is in progress new bodies queue up in
// the channel and form the next batch, so the batch size adapts to the load with no timers
// or sleeps.
package bareref

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"junction/internal/sqlitefile"
)

// MaxBatch is the most bodies committed in one transaction.
const MaxBatch = 1024

// MaxBody is the largest accepted request body.
const MaxBody = 16 << 20

var (
	okBody    = []byte("OK\n")
	okLen     = []string{strconv.Itoa(len(okBody))}
	textPlain = []string{"text/plain; charset=utf-8"}
)

type pending struct {
	body []byte
	at   int64 // received_at, Unix nanoseconds
	done chan error
}

var pendingPool = sync.Pool{New: func() any { return &pending{done: make(chan error, 1)} }}

type server struct {
	db   *sql.DB
	ins  *sql.Stmt
	in   chan *pending
	mu   sync.RWMutex // guards closed against sends on a closed channel
	shut bool
	wg   sync.WaitGroup
}

// Start opens (creating if needed) the SQLite database at dbPath, listens on addr
// (e.g. "127.0.0.1:0") and serves. It returns the base URL ("http://host:port/"; any path
// is accepted) and a stop function that shuts the server down gracefully, flushes pending
// commits and closes the database.
func Start(dbPath, addr string) (string, func() error, error) {
	// One connection, opened as Junction's stores open theirs: SQLite has one writer
	// anyway, and this keeps the prepared statement and page cache on a single connection.
	db, err := sqlitefile.OpenWriter(dbPath, 5*time.Second, url.Values{"_txlock": {"immediate"}})
	if err != nil {
		return "", nil, err
	}

	fail := func(err error) (string, func() error, error) {
		db.Close()
		return "", nil, fmt.Errorf("bareref: %w", err)
	}
	if err := sqlitefile.UseWAL(context.Background(), db); err != nil {
		return fail(err)
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS messages (
		id          INTEGER PRIMARY KEY,
		received_at INTEGER NOT NULL,
		body        BLOB NOT NULL
	)`); err != nil {
		return fail(err)
	}
	ins, err := db.Prepare("INSERT INTO messages (received_at, body) VALUES (?, ?)")
	if err != nil {
		return fail(err)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ins.Close()
		return fail(err)
	}

	s := &server{db: db, ins: ins, in: make(chan *pending, 4*MaxBatch)}
	s.wg.Add(1)
	go s.writer()

	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := hs.Shutdown(ctx)
			if err != nil {
				hs.Close()
			}
			if serr := <-serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			// No more sends after this; the writer commits what is queued and exits.
			s.mu.Lock()
			s.shut = true
			close(s.in)
			s.mu.Unlock()
			s.wg.Wait()
			stopErr = errors.Join(err, ins.Close(), db.Close())
		})
		return stopErr
	}
	return "http://" + ln.Addr().String() + "/", stop, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := pendingPool.Get().(*pending)
	p.body, p.at = body, time.Now().UnixNano()

	s.mu.RLock()
	if s.shut {
		s.mu.RUnlock()
		p.body = nil
		pendingPool.Put(p)
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.in <- p
	s.mu.RUnlock()

	err = <-p.done
	p.body = nil
	pendingPool.Put(p)
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = okLen
	w.WriteHeader(http.StatusOK)
	w.Write(okBody)
}

// readBody reads the whole body into one exactly-sized allocation when the length is known.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, fmt.Errorf("body larger than %d bytes", MaxBody)
	}
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
}

// writer is the single group-commit loop.
func (s *server) writer() {
	defer s.wg.Done()
	batch := make([]*pending, 0, MaxBatch)
	for {
		p, ok := <-s.in
		if !ok {
			return
		}
		batch = append(batch[:0], p)
	fill:
		for len(batch) < MaxBatch {
			select {
			case p, ok := <-s.in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		err := s.commit(batch)
		for i, p := range batch {
			p.done <- err
			batch[i] = nil
		}
	}
}

func (s *server) commit(batch []*pending) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	st := tx.Stmt(s.ins)
	for _, p := range batch {
		if _, err := st.Exec(p.at, p.body); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}
