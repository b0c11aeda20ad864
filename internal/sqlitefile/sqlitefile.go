// Package sqlitefile marks and checks the SQLite files of Junction's stores, the message
// store (engine/store/sqlite) and the FHIR store (fhirstore), each described by a Format:
//
//   - what a file is, read before anything writes to it (Identify): a file is taken when
//     it is marked with the format's PRAGMA application_id, new (no tables), or written
//     by an earlier Junction (application_id 0 but the format's tables and a
//     user_version), which the store then marks; anything else is refused unchanged.
//   - whether it is sound: PRAGMA quick_check at open, over the whole file up to a size
//     and a bounded check above it (StartCheck), and the full PRAGMA integrity_check for
//     `junction store check` (Check).
//   - what a failure to open it means (Failure): not a database, corrupt, or read-only,
//     in errors that name the file and are errors.Is the format's own error values.
//
// It uses database/sql and the standard library only: the driver's errors reach it
// through Format.Driver.
package sqlitefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Code is a SQLite primary result code (https://sqlite.org/rescode.html).
type Code int

// The result codes the checks tell apart.
const (
	CodePerm     Code = 3  // SQLITE_PERM
	CodeReadOnly Code = 8  // SQLITE_READONLY
	CodeCorrupt  Code = 11 // SQLITE_CORRUPT
	CodeCantOpen Code = 14 // SQLITE_CANTOPEN
	CodeNotADB   Code = 26 // SQLITE_NOTADB
)

// DriverError is what the checks need to know of an error of the SQLite driver.
type DriverError struct {
	Code  Code          // the primary result code
	Errno syscall.Errno // the system error behind it; 0 if none
	Msg   string        // SQLite's words, as "file is not a database"
}

// Format describes one kind of Junction SQLite file: its mark, its tables, and how its
// errors name it and say what to do.
type Format struct {
	// ApplicationID is the file's mark (PRAGMA application_id).
	ApplicationID uint32
	// Prefix starts every error message, as "sqlite".
	Prefix string
	// Noun is what the file is, as "message store": "not a Junction message store".
	Noun string
	// Elsewhere is how to point the store at another file, as "set store.path".
	Elsewhere string
	// Damaged says what to do about a corrupt file, a sentence without its full stop.
	Damaged string
	// Others names the marks of other files a refusal recognises, as "a Junction FHIR store".
	Others map[uint32]string
	// Tables are the tables of the first schema version: an unmarked file holding all of
	// them (and a user_version) was written by an earlier Junction, before files were marked.
	Tables []string
	// BoundedTables are small whatever the traffic: the bounded check runs quick_check
	// over each. GrowingTables grow with it (rowid tables): the bounded check reads
	// their newest rows. A table the file lacks (an older schema) is skipped.
	BoundedTables, GrowingTables []string
	// ErrNotStore, ErrCorrupt and ErrReadOnly are the store's error values: the errors
	// of this package are errors.Is the one of their kind.
	ErrNotStore, ErrCorrupt, ErrReadOnly error
	// Driver reports the SQLite error in err's chain, ok false when there is none.
	Driver func(err error) (de DriverError, ok bool)
}

// fileError is a problem with the file; msg names it and what to do.
type fileError struct {
	kind  error // the format's ErrNotStore, ErrCorrupt or ErrReadOnly
	msg   string
	cause error // may be nil
}

func (e *fileError) Error() string   { return e.msg }
func (e *fileError) Unwrap() []error { return []error{e.kind, e.cause} }

// OpenError is a store's Open error for err: the file's own problems as they are (their
// messages name it), anything else prefixed with what failed.
func (f *Format) OpenError(path string, err error) error {
	err = f.Failure(path, err)
	var fe *fileError
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%s: open %s: %w", f.Prefix, path, err)
}

// Failure names the problem with the file at path behind err when there is one: not a
// database, corrupt, or read-only. Other errors come back unchanged.
func (f *Format) Failure(path string, err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return err
	}
	if de, ok := f.Driver(err); ok {
		switch de.Code {
		case CodeNotADB:
			return &fileError{kind: f.ErrNotStore, cause: err, msg: fmt.Sprintf(
				"%s: %s is not a Junction %s: it is not a SQLite database (SQLite says %q): move it away or %s to another file",
				f.Prefix, path, f.Noun, de.Msg, f.Elsewhere)}
		case CodeCorrupt:
			return f.corruptError(path, "reading it", []string{de.Msg})
		case CodeReadOnly:
			return f.readOnlyError(path, err)
		case CodeCantOpen, CodePerm:
			if werr := probeWritable(filepath.Dir(path)); werr != nil {
				return f.readOnlyError(path, werr)
			}
			if errors.Is(de.Errno, fs.ErrPermission) || de.Errno == syscall.EROFS {
				return f.readOnlyError(path, err)
			}
		}
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return f.readOnlyError(path, err)
	}
	return err
}

// isCorrupt reports whether err is SQLite's "database disk image is malformed".
func (f *Format) isCorrupt(err error) bool {
	de, ok := f.Driver(err)
	return ok && de.Code == CodeCorrupt
}

// notStoreError refuses a SQLite file that is not of the format.
func (f *Format) notStoreError(path string, id uint32, tables []string) error {
	what := ""
	if name, ok := f.Others[id]; ok {
		what = ", " + name
	}
	return &fileError{kind: f.ErrNotStore, msg: fmt.Sprintf(
		"%s: %s is not a Junction %s (application_id 0x%08X%s, tables: %s): move it away or %s to another file",
		f.Prefix, path, f.Noun, id, what, listNames(tables), f.Elsewhere)}
}

// corruptError refuses a corrupt file; check says what found the problems.
func (f *Format) corruptError(path, check string, problems []string) error {
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" and %d more problems", len(problems)-1)
	}
	return &fileError{kind: f.ErrCorrupt, msg: fmt.Sprintf(
		"%s: the %s %s is corrupt (%s: %q%s; expected \"ok\"). %s; `junction store check` lists every problem",
		f.Prefix, f.Noun, path, check, problems[0], more, f.Damaged)}
}

func (f *Format) readOnlyError(path string, cause error) error {
	return &fileError{kind: f.ErrReadOnly, cause: cause, msg: fmt.Sprintf(
		"%s: cannot write the %s %s: it or its folder is read-only (%v). The store writes the file and creates its -wal and -shm files next to it: make the folder writable by this user or %s to a writable place",
		f.Prefix, f.Noun, path, cause, f.Elsewhere)}
}

// probeWritable tries to create (and removes) a file in dir. Only used once opening failed.
func probeWritable(dir string) error {
	tmp, err := os.CreateTemp(dir, ".junction-write-test-*")
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
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
