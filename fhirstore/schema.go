package fhirstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/internal/sqlitefile"
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

// Store marking and integrity checks, the message store's (engine/store/sqlite,
// integrity.go) with their own mark and messages, in internal/sqlitefile.
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
)

// Errors of the store file itself, for errors.Is. Their messages name the file.
var (
	ErrNotStore = errors.New("not a Junction FHIR store")
	ErrCorrupt  = errors.New("the FHIR store is corrupt")
	ErrReadOnly = errors.New("the FHIR store is read-only")
)

// storeFile describes the FHIR store's file to the checks.
var storeFile = &sqlitefile.Format{
	ApplicationID: ApplicationID,
	Prefix:        "fhirstore",
	Noun:          "FHIR store",
	Elsewhere:     "set the fhir-store destination's path",
	Damaged:       "Junction will not store resources in a damaged file: restore it from a backup, or move it (with its -wal and -shm files) away and rebuild it by reprocessing the messages",
	Others:        map[uint32]string{messageStoreID: "a Junction message store"},
	Tables:        []string{"idx_date", "idx_reference", "idx_string", "idx_token", "resource", "version"},
	GrowingTables: []string{"resource", "version"},
	ErrNotStore:   ErrNotStore,
	ErrCorrupt:    ErrCorrupt,
	ErrReadOnly:   ErrReadOnly,
	Driver:        driverError,
}

// driverError is the go-sqlite3 error in err's chain.
func driverError(err error) (sqlitefile.DriverError, bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return sqlitefile.DriverError{}, false
	}
	return sqlitefile.DriverError{Code: sqlitefile.Code(se.Code), Errno: se.SystemErrno, Msg: se.Error()}, true
}

// checkIdentity refuses a file that is not a Junction FHIR store. unmarked reports a
// store of an earlier Junction, which migrate marks.
func checkIdentity(ctx context.Context, db *sql.DB, path string) (unmarked bool, err error) {
	return storeFile.Identify(ctx, db, path)
}

// startCheck is Open's integrity check: quick_check of the whole file when it is at most
// max bytes, else the newest rows of the growing tables.
func startCheck(ctx context.Context, db *sql.DB, path string, max int64) error {
	return storeFile.StartCheck(ctx, db, path, max)
}

// openError is Open's error for err: the file's own problems as they are (their messages
// name it), anything else prefixed with what failed.
func openError(path string, err error) error { return storeFile.OpenError(path, err) }

// CheckReport is what Check found.
type CheckReport = sqlitefile.Report

// Check runs PRAGMA integrity_check over the whole FHIR store at path: every page, every
// index entry against its table, and the constraints. It reads through a read-only
// connection, so it may run while Junction serves from the file. A file that is not a
// FHIR store, or cannot be read, is an error.
func Check(ctx context.Context, path string) (CheckReport, error) {
	return storeFile.Check(ctx, path, func(abs string) (*sql.DB, error) {
		return sqlitefile.OpenReader(abs, 1, 5*time.Second)
	})
}
