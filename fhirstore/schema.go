package fhirstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// schemaVersion is the version this build writes into PRAGMA user_version.
const schemaVersion = 1

// versionBits: a version row's key is rid<<versionBits | version, so all the versions of
// one resource are one rowid range (History is a range scan, the current version a rowid
// lookup) and the table needs no second index. It allows 16,777,215 versions a resource.
const (
	versionBits = 24
	maxVersion  = 1<<versionBits - 1
)

// migrations[i] moves a database from user_version i to i+1, in one transaction.
//
//   - resource: one row per Type/id, pointing at its current version; deleted marks a
//     resource whose current version is a deletion. hash is the SHA-256 of the current
//     content (json.go, contentHash), so an identical update is found without reading it.
//     updated is the current version's lastUpdated in Unix milliseconds.
//   - version: every version's JSON as stored (meta.versionId and meta.lastUpdated set);
//     json is NULL for a deletion. Rows are large, so this is a rowid table.
//   - idx_*: the search index of the current versions, one table per parameter type,
//     rewritten on every write in the same transaction. Their primary key starts with rid
//     (replacing a resource's rows is a range delete) and each has a lookup index starting
//     with (type, param). Rows are small, hence WITHOUT ROWID.
var migrations = []string{
	// 0 -> 1
	`
CREATE TABLE resource (
	rid     INTEGER PRIMARY KEY,
	type    TEXT NOT NULL,
	id      TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	deleted INTEGER NOT NULL DEFAULT 0,
	hash    BLOB,
	UNIQUE (type, id)
);
CREATE INDEX resource_type ON resource (type);             -- (type, rid): searches page in rid order
CREATE INDEX resource_updated ON resource (type, updated); -- _lastUpdated

CREATE TABLE version (
	vid     INTEGER PRIMARY KEY, -- rid<<24 | version
	updated INTEGER NOT NULL,    -- Unix milliseconds
	method  TEXT NOT NULL,       -- PUT, POST or DELETE
	json    BLOB                 -- NULL for a deletion
);

CREATE TABLE idx_string (
	rid   INTEGER NOT NULL,
	type  TEXT NOT NULL,
	param TEXT NOT NULL,
	norm  TEXT NOT NULL, -- lower case, accents removed (fold.go): starts-with and :contains
	raw   TEXT NOT NULL, -- as sent: :exact
	PRIMARY KEY (rid, param, raw)
) WITHOUT ROWID;
CREATE INDEX idx_string_lookup ON idx_string (type, param, norm);

CREATE TABLE idx_token (
	rid    INTEGER NOT NULL,
	type   TEXT NOT NULL,
	param  TEXT NOT NULL,
	system TEXT NOT NULL, -- '' when the value has none
	code   TEXT NOT NULL,
	PRIMARY KEY (rid, param, system, code)
) WITHOUT ROWID;
CREATE INDEX idx_token_lookup ON idx_token (type, param, code, system);

CREATE TABLE idx_date (
	rid   INTEGER NOT NULL,
	type  TEXT NOT NULL,
	param TEXT NOT NULL,
	lo    INTEGER NOT NULL, -- [lo, hi) in Unix milliseconds (dates.go)
	hi    INTEGER NOT NULL,
	PRIMARY KEY (rid, param, lo, hi)
) WITHOUT ROWID;
CREATE INDEX idx_date_lo ON idx_date (type, param, lo);
CREATE INDEX idx_date_hi ON idx_date (type, param, hi);

CREATE TABLE idx_reference (
	rid      INTEGER NOT NULL,
	type     TEXT NOT NULL,
	param    TEXT NOT NULL,
	ref_type TEXT NOT NULL,
	ref_id   TEXT NOT NULL,
	PRIMARY KEY (rid, param, ref_type, ref_id)
) WITHOUT ROWID;
CREATE INDEX idx_reference_lookup ON idx_reference (type, param, ref_id, ref_type);
`,
}

// migrate brings the schema up to schemaVersion and marks the file as a Junction FHIR
// store (ApplicationID; a store of an earlier Junction is marked here too). A file
// written by a newer build is refused rather than misread; Open has checked the file is
// a FHIR store (checkIdentity).
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("the file has schema version %d, newer than this build's %d: upgrade Junction", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating the schema from version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", v+1, ApplicationID)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	var id int64
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil {
		return fmt.Errorf("reading the application_id: %w", err)
	}
	if id != ApplicationID {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
			return fmt.Errorf("marking the file as a Junction FHIR store: %w", err)
		}
	}
	return nil
}

// Store marking and integrity checks, as the message store's (engine/store/sqlite,
// integrity.go) with their own mark and messages.
//
// Open takes a file only when it is marked (PRAGMA application_id = ApplicationID), new
// (no tables), or a store of an earlier Junction (application_id 0 but this schema's
// tables and a user_version), which migrate then marks; anything else is refused before
// any pragma writes to it. It then runs PRAGMA quick_check, which reads every page: over
// the whole file when the file and its WAL are at most quickCheckMax (about a second a
// GiB from the page cache, ten from a cold 100 MB/s disk); a bigger store gets a bounded
// check, a read of the newest rows of its two growing rowid tables. Check, for `junction
// store check`, runs the full PRAGMA integrity_check.

const (
	// ApplicationID marks a Junction FHIR store (PRAGMA application_id): "JFHR".
	ApplicationID = 0x4A464852
	// messageStoreID is the message store's mark ("JNCT"), recognised to say what a file is.
	messageStoreID = 0x4A4E4354
	quickCheckMax  = 1 << 30
	tailRows       = 256
)

// Errors of the store file itself, for errors.Is. Their messages name the file.
var (
	ErrNotStore = errors.New("not a Junction FHIR store")
	ErrCorrupt  = errors.New("the FHIR store is corrupt")
	ErrReadOnly = errors.New("the FHIR store is read-only")
)

// fileError is a problem with the store file; msg names the file and what to do.
type fileError struct {
	kind  error // ErrNotStore, ErrCorrupt or ErrReadOnly
	msg   string
	cause error // may be nil
}

func (e *fileError) Error() string   { return e.msg }
func (e *fileError) Unwrap() []error { return []error{e.kind, e.cause} }

// schemaTables are the tables of the first schema version.
var schemaTables = []string{"idx_date", "idx_reference", "idx_string", "idx_token", "resource", "version"}

// identity reads a file's application_id, user_version and table names. It writes nothing.
func identity(ctx context.Context, db *sql.DB) (id uint32, version int, tables []string, err error) {
	var raw int64
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&raw); err != nil {
		return 0, 0, nil, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, nil, err
	}
	tables, err = textRows(ctx, db, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	return uint32(raw), version, tables, err
}

// checkIdentity refuses a file that is not a Junction FHIR store. unmarked reports a
// store of an earlier Junction, which migrate marks.
func checkIdentity(ctx context.Context, db *sql.DB, path string) (unmarked bool, err error) {
	id, version, tables, err := identity(ctx, db)
	if err != nil {
		return false, openFailure(path, err)
	}
	missing := slices.ContainsFunc(schemaTables, func(t string) bool { return !slices.Contains(tables, t) })
	switch {
	case id == ApplicationID:
		return false, nil
	case id == 0 && len(tables) == 0:
		return false, nil // new
	case id == 0 && version >= 1 && !missing:
		return true, nil
	}
	what := ""
	if id == messageStoreID {
		what = ", a Junction message store"
	}
	names := "none"
	if len(tables) > 0 {
		names = strings.Join(tables[:min(len(tables), 8)], ", ")
		if len(tables) > 8 {
			names += fmt.Sprintf(" and %d more", len(tables)-8)
		}
	}
	return false, &fileError{kind: ErrNotStore, msg: fmt.Sprintf(
		"fhirstore: %s is not a Junction FHIR store (application_id 0x%08X%s, tables: %s): move it away or set the fhir-store destination's path to another file",
		path, id, what, names)}
}

// startCheck is Open's integrity check: quick_check of the whole file when it is at most
// max bytes, else the newest rows of the growing tables.
func startCheck(ctx context.Context, db *sql.DB, path string, max int64) error {
	var problems []string
	var err error
	check := "PRAGMA quick_check"
	if size := fileBytes(path); size <= max {
		problems, err = pragmaCheck(ctx, db, "quick_check")
	} else {
		check = fmt.Sprintf("the bounded check of a store of %.1f MiB, over the %.1f MiB checked whole", float64(size)/(1<<20), float64(max)/(1<<20))
		for _, t := range []string{"resource", "version"} {
			var n int
			q := fmt.Sprintf("SELECT count(*) FROM (SELECT rowid FROM %s ORDER BY rowid DESC LIMIT %d)", t, tailRows)
			if err = db.QueryRowContext(ctx, q).Scan(&n); isCorrupt(err) {
				problems, err = append(problems, fmt.Sprintf("reading the newest rows of %s: %v", t, err)), nil
			} else if err != nil {
				break
			}
		}
	}
	if err != nil {
		return openFailure(path, err)
	}
	if len(problems) > 0 {
		return corruptError(path, check, problems)
	}
	return nil
}

// pragmaCheck runs PRAGMA check (quick_check or integrity_check) and returns its
// findings, one a line: none when the answer is "ok". Damage that stops the check is its
// last finding.
func pragmaCheck(ctx context.Context, db *sql.DB, check string) ([]string, error) {
	rows, err := textRows(ctx, db, "PRAGMA "+check)
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
		findings = append(findings, fmt.Sprintf("PRAGMA %s stopped: %v", check, err))
	}
	return findings, nil
}

// textRows runs a query whose rows are one text column; on an error it returns the rows
// read before it too.
func textRows(ctx context.Context, db *sql.DB, query string) ([]string, error) {
	rows, err := db.QueryContext(ctx, query)
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

func isCorrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt
}

// corruptError refuses a corrupt store; check says what found the problems.
func corruptError(path, check string, problems []string) error {
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" and %d more problems", len(problems)-1)
	}
	return &fileError{kind: ErrCorrupt, msg: fmt.Sprintf(
		"fhirstore: the FHIR store %s is corrupt (%s: %q%s; expected \"ok\"). Junction will not store resources in a damaged file: restore it from a backup, or move it (with its -wal and -shm files) away and rebuild it by reprocessing the messages; `junction store check` lists every problem",
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
	return fmt.Errorf("fhirstore: open %s: %w", path, err)
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
				"fhirstore: %s is not a Junction FHIR store: it is not a SQLite database (SQLite says %q): move it away or set the fhir-store destination's path to another file",
				path, se.Error())}
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
		"fhirstore: cannot write the FHIR store %s: it or its folder is read-only (%v). The store writes the file and creates its -wal and -shm files next to it: make the folder writable by this user or set the fhir-store destination's path to a writable place",
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

// Check runs PRAGMA integrity_check over the whole FHIR store at path: every page, every
// index entry against its table, and the constraints. It reads through a read-only
// connection, so it may run while Junction serves from the file. A file that is not a
// FHIR store, or cannot be read, is an error.
func Check(ctx context.Context, path string) (CheckReport, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return CheckReport{}, fmt.Errorf("fhirstore: check %s: %w", path, err)
	}
	rep := CheckReport{Path: abs, Bytes: fileBytes(abs)}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		rep.Missing = true
		return rep, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "5000")
	db, err := sql.Open("sqlite3", (&Store{path: abs}).dsn(q))
	if err != nil {
		return rep, fmt.Errorf("fhirstore: check %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	start := time.Now()
	rep.Unmarked, err = checkIdentity(ctx, db, abs)
	if err == nil {
		rep.Problems, err = pragmaCheck(ctx, db, "integrity_check")
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
		return rep, fmt.Errorf("fhirstore: check %s: %w", abs, openFailure(abs, err))
	}
	return rep, nil
}
