package sqlite

// Store marking and integrity checks, shared with fhirstore in internal/sqlitefile.
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
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/internal/sqlitefile"
)

const (
	// ApplicationID marks a Junction message store (PRAGMA application_id): "JNCT".
	ApplicationID = 0x4A4E4354
	// fhirStoreID is fhirstore's mark ("JFHR"), recognised only to say what a file is.
	fhirStoreID = 0x4A464852
	// DefaultQuickCheckMax is the default Options.QuickCheckMax: 1 GiB.
	DefaultQuickCheckMax = 1 << 30
)

// Errors of the store file itself, for errors.Is. Their messages name the file.
var (
	ErrNotStore = errors.New("not a Junction message store")
	ErrCorrupt  = errors.New("the store is corrupt")
	ErrReadOnly = errors.New("the store is read-only")
)

// storeFile describes the message store's file to the checks.
var storeFile = &sqlitefile.Format{
	ApplicationID: ApplicationID,
	Prefix:        "sqlite",
	Noun:          "message store",
	Elsewhere:     "set store.path",
	Damaged:       "Junction will not accept messages into a damaged store: restore the file from a backup, or move it (with its -wal and -shm files) away to start an empty store",
	Others:        map[uint32]string{fhirStoreID: "a Junction FHIR store"},
	Tables:        []string{"channels", "contents", "deliveries", "messages", "queues"},
	BoundedTables: []string{"queues", "channels", "search_state", "api_tokens"},
	GrowingTables: []string{"messages", "contents", "deliveries", "events"},
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

// checkIdentity refuses a file that is not a Junction message store. unmarked reports a
// store of an earlier Junction, which migrate marks.
func checkIdentity(ctx context.Context, q sqlitefile.Querier, path string) (unmarked bool, err error) {
	return storeFile.Identify(ctx, q, path)
}

// startCheck is Open's integrity check (see the top of this file): the whole file when
// it is at most max bytes (max < 0: never), else the bounded part.
func startCheck(ctx context.Context, q sqlitefile.Querier, path string, max int64) error {
	return storeFile.StartCheck(ctx, q, path, max)
}

// openError is Open's error for err: the file's own problems as they are (their messages
// name it), anything else prefixed with what failed.
func openError(path string, err error) error { return storeFile.OpenError(path, err) }

// CheckReport is what Check found.
type CheckReport = sqlitefile.Report

// Check runs PRAGMA integrity_check over the whole message store at path: every page,
// every index entry against its table, and the constraints. It reads the file through a
// read-only connection, so it may run while Junction serves from it (it then checks the
// last committed state), and takes about as long as reading the file once or twice.
// A file that is not a message store, or cannot be read, is an error.
func Check(ctx context.Context, path string) (CheckReport, error) {
	return storeFile.Check(ctx, path, func(abs string) (*sql.DB, error) {
		return sqlitefile.OpenReader(abs, 1, 5*time.Second)
	})
}
