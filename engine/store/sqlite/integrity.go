package sqlite

// Store marking and integrity checks.
//
// A message store is marked with PRAGMA application_id = ApplicationID, written with the
// schema (PRAGMA user_version stays the schema version). Open takes a file only when it is
// marked, new (no tables), or a store of an earlier Junction (application_id 0 but the
// schema's tables and a user_version), which migrate then marks; anything else is refused
// unchanged, before any pragma writes to it.
//
// Open then runs PRAGMA quick_check. Its cost is one read of every page of the file, so
// it grows with the store (measured: about 1 s a GiB from the page cache, 10 s a GiB from
// a cold 100 MB/s disk). It runs over the whole file when the file and its WAL are at
// most Options.QuickCheckMax (default 1 GiB); a bigger store gets the bounded part only:
// quick_check of the tables whose size the configuration bounds (queues, channels,
// search_state, api_tokens) and a read of the newest rows of the tables that grow with
// traffic (messages, contents, deliveries, events), where the writer and the queue
// workers go next. `junction store check` runs the full PRAGMA integrity_check (Check).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

const (
	// ApplicationID marks a Junction message store (PRAGMA application_id): "JNCT".
	ApplicationID = 0x4A4E4354
	// fhirStoreID is fhirstore's mark ("JFHR"), recognised only to say what a file is.
	fhirStoreID = 0x4A464852
	// DefaultQuickCheckMax is the default Options.QuickCheckMax: 1 GiB.
	DefaultQuickCheckMax = 1 << 30
	// tailRows is how many of the newest rows of each growing table the bounded check reads.
	tailRows = 256
)

// Errors of the store file itself, for errors.Is. Their messages name the file.
var (
	ErrNotStore = errors.New("not a Junction message store")
	ErrCorrupt  = errors.New("the store is corrupt")
	ErrReadOnly = errors.New("the store is read-only")
)

// fileError is a problem with the store file; msg names the file and what to do.
type fileError struct {
	kind  error // ErrNotStore, ErrCorrupt or ErrReadOnly
	msg   string
	cause error // may be nil
}

func (e *fileError) Error() string   { return e.msg }
func (e *fileError) Unwrap() []error { return []error{e.kind, e.cause} }

// schemaTables are the tables of the first schema version: a file holding all of them
// (and a user_version) is a store of an earlier Junction, written before stores were marked.
var schemaTables = []string{"channels", "contents", "deliveries", "messages", "queues"}

// boundedTables are small whatever the traffic; growingTables are not (rowid tables).
var (
	boundedTables = []string{"queues", "channels", "search_state", "api_tokens"}
	growingTables = []string{"messages", "contents", "deliveries", "events"}
)

// querier is what the checks need of a *sql.Conn or *sql.DB.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identity reads a file's application_id, user_version and table names. It writes nothing.
func identity(ctx context.Context, q querier) (id uint32, version int, tables []string, err error) {
	var raw int64
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&raw); err != nil {
		return 0, 0, nil, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, nil, err
	}
	tables, err = strings1(ctx, q, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	return uint32(raw), version, tables, err
}

// checkIdentity refuses a file that is not a Junction message store. unmarked reports a
// store of an earlier Junction, which migrate marks.
func checkIdentity(ctx context.Context, q querier, path string) (unmarked bool, err error) {
	id, version, tables, err := identity(ctx, q)
	if err != nil {
		return false, openFailure(path, err)
	}
	switch {
	case id == ApplicationID:
		return false, nil
	case id == 0 && len(tables) == 0:
		return false, nil // new
	case id == 0 && version >= 1 && containsAll(tables, schemaTables):
		return true, nil
	}
	what := ""
	if id == fhirStoreID {
		what = ", a Junction FHIR store"
	}
	return false, &fileError{kind: ErrNotStore, msg: fmt.Sprintf(
		"sqlite: %s is not a Junction message store (application_id 0x%08X%s, tables: %s): move it away or set store.path to another file",
		path, id, what, listNames(tables))}
}

// startCheck is Open's integrity check (see the top of this file): the whole file when
// it is at most max bytes (max < 0: never), else the bounded part.
func startCheck(ctx context.Context, q querier, path string, max int64) error {
	var problems []string
	var err error
	check := "PRAGMA quick_check"
	if size := fileBytes(path); max >= 0 && size <= max {
		problems, err = pragmaCheck(ctx, q, "quick_check", "")
	} else {
		check = "the bounded check (QuickCheckMax < 0)"
		if max >= 0 {
			check = fmt.Sprintf("the bounded check of a store of %.1f MiB, over the %.1f MiB checked whole", float64(size)/(1<<20), float64(max)/(1<<20))
		}
		problems, err = boundedCheck(ctx, q)
	}
	if err != nil {
		return openFailure(path, err)
	}
	if len(problems) > 0 {
		return corruptError(path, check, problems)
	}
	return nil
}

// boundedCheck is quick_check of the bounded tables and a read of the newest rows of the
// growing ones; a table an older schema lacks is skipped.
func boundedCheck(ctx context.Context, q querier) ([]string, error) {
	_, _, tables, err := identity(ctx, q)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, t := range boundedTables {
		if slices.Contains(tables, t) {
			p, err := pragmaCheck(ctx, q, "quick_check", t)
			if err != nil {
				return nil, err
			}
			for _, line := range p {
				problems = append(problems, t+": "+line)
			}
		}
	}
	for _, t := range growingTables {
		if !slices.Contains(tables, t) {
			continue
		}
		var n int
		query := fmt.Sprintf("SELECT count(*) FROM (SELECT rowid FROM %s ORDER BY rowid DESC LIMIT %d)", t, tailRows)
		if err := q.QueryRowContext(ctx, query).Scan(&n); isCorrupt(err) {
			problems = append(problems, fmt.Sprintf("reading the newest rows of %s: %v", t, err))
		} else if err != nil {
			return nil, err
		}
	}
	return problems, nil
}

// pragmaCheck runs PRAGMA check (quick_check or integrity_check), over table only when
// set, and returns its findings, one a line: none when the answer is "ok". Damage that
// stops the check is its last finding.
func pragmaCheck(ctx context.Context, q querier, check, table string) ([]string, error) {
	query := "PRAGMA " + check
	if table != "" {
		query += "(" + table + ")"
	}
	rows, err := strings1(ctx, q, query)
	var findings []string
	for _, r := range rows {
		for _, line := range strings.Split(r, "\n") {
			if line != "ok" && line != "" && line != "*** in database main ***" {
				findings = append(findings, line)
			}
		}
	}
	if err != nil {
		if !isCorrupt(err) {
			return nil, err
		}
		findings = append(findings, fmt.Sprintf("%s stopped: %v", query, err))
	}
	return findings, nil
}

// isCorrupt reports whether err is SQLite's "database disk image is malformed".
func isCorrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt
}

// strings1 runs a query whose rows are one text column. On an error it returns the rows
// read before it too.
func strings1(ctx context.Context, q querier, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// corruptError refuses a corrupt store; check says what found the problems.
func corruptError(path, check string, problems []string) error {
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" and %d more problems", len(problems)-1)
	}
	return &fileError{kind: ErrCorrupt, msg: fmt.Sprintf(
		"sqlite: the message store %s is corrupt (%s: %q%s; expected \"ok\"). Junction will not accept messages into a damaged store: restore the file from a backup, or move it (with its -wal and -shm files) away to start an empty store; `junction store check` lists every problem",
		path, check, problems[0], more)}
}

// openError is Open's error for err: the file's own problems as they are (their messages
// name it), anything else prefixed with what failed.
func openError(path string, err error) error {
	err = openFailure(path, err)
	var fe *fileError
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

// openFailure names the problem with the file behind err when there is one: not a
// database, corrupt, or read-only. Other errors come back unchanged.
func openFailure(path string, err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return err
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB:
			return &fileError{kind: ErrNotStore, cause: err, msg: fmt.Sprintf(
				"sqlite: %s is not a Junction message store: it is not a SQLite database (SQLite says %q): move it away or set store.path to another file",
				path, err.Error())}
		case sqlite3.ErrCorrupt:
			return corruptError(path, "reading it", []string{se.Error()})
		case sqlite3.ErrReadonly:
			return readOnlyError(path, err)
		case sqlite3.ErrCantOpen, sqlite3.ErrPerm:
			if werr := probeWritable(filepath.Dir(path)); werr != nil {
				return readOnlyError(path, werr)
			}
			if errors.Is(se.SystemErrno, fs.ErrPermission) || se.SystemErrno == syscall.EROFS {
				return readOnlyError(path, err)
			}
		}
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return readOnlyError(path, err)
	}
	return err
}

func readOnlyError(path string, cause error) error {
	return &fileError{kind: ErrReadOnly, cause: cause, msg: fmt.Sprintf(
		"sqlite: cannot write the message store %s: it or its folder is read-only (%v). The store writes the file and creates its -wal and -shm files next to it: make the folder writable by this user or set store.path to a writable place",
		path, cause)}
}

// probeWritable tries to create (and removes) a file in dir. Only used once opening failed.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".junction-write-test-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// fileBytes is the size of the file and its WAL (0 for what does not exist).
func fileBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// listNames lists names for an error message: "none", or at most 8 and a count.
func listNames(names []string) string {
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > 8:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:8], ", "), len(names)-8)
	}
	return strings.Join(names, ", ")
}

// CheckReport is what Check found.
type CheckReport struct {
	Path     string // absolute
	Missing  bool   // there is no file at Path yet: nothing to check
	Unmarked bool   // a store of an earlier Junction, marked the next time it is opened
	Bytes    int64  // the file and its WAL
	// Problems are PRAGMA integrity_check's findings; none: the store is sound.
	Problems []string
	Took     time.Duration
}

// Check runs PRAGMA integrity_check over the whole message store at path: every page,
// every index entry against its table, and the constraints. It reads the file through a
// read-only connection, so it may run while Junction serves from it (it then checks the
// last committed state), and takes about as long as reading the file once or twice.
// A file that is not a message store, or cannot be read, is an error.
func Check(ctx context.Context, path string) (CheckReport, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return CheckReport{}, fmt.Errorf("sqlite: check %s: %w", path, err)
	}
	rep := CheckReport{Path: abs, Bytes: fileBytes(abs)}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		rep.Missing = true
		return rep, nil
	}
	db, err := sql.Open("sqlite3", (&Store{path: abs}).dsn("mode=ro&_busy_timeout=5000&_mutex=no"))
	if err != nil {
		return rep, fmt.Errorf("sqlite: check %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	start := time.Now()
	rep.Unmarked, err = checkIdentity(ctx, db, abs)
	if err == nil {
		rep.Problems, err = pragmaCheck(ctx, db, "integrity_check", "")
	}
	rep.Took = time.Since(start)
	var se sqlite3.Error
	switch {
	case errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt:
		// Damage that stops reading the schema is the one finding.
		rep.Problems = append(rep.Problems, "reading the schema: "+se.Error())
	case errors.Is(err, ErrNotStore):
		return rep, err
	case err != nil:
		return rep, fmt.Errorf("sqlite: check %s: %w", abs, openFailure(abs, err))
	}
	return rep, nil
}
