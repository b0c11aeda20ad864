package sqlitefile

// The checks. PRAGMA quick_check reads every page of the file once, so its cost grows
// with the store (measured: about 1 s a GiB from the page cache, 10 s a GiB from a cold
// 100 MB/s disk); StartCheck runs it over the whole file only up to a size and otherwise
// the bounded check: quick_check of the tables whose size the configuration bounds and a
// read of the newest rows of the tables that grow with traffic, where the store writes
// next. Check runs the full PRAGMA integrity_check, which also checks every index entry
// against its table, and the constraints.

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
	"time"
)

// tailRows is how many of the newest rows of each growing table the bounded check reads.
const tailRows = 256

// Querier is what the checks need of a *sql.Conn or *sql.DB.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identity reads a file's application_id, user_version and table names. It writes nothing.
func identity(ctx context.Context, q Querier) (id uint32, version int, tables []string, err error) {
	var raw int64
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&raw); err != nil {
		return 0, 0, nil, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, nil, err
	}
	tables, err = textRows(ctx, q, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	return uint32(raw), version, tables, err
}

// Identify refuses a file that is not of the format (errors.Is ErrNotStore), reading it
// only: call it before anything writes to the file. unmarked reports a file of an
// earlier Junction, which the store is to mark.
func (f *Format) Identify(ctx context.Context, q Querier, path string) (unmarked bool, err error) {
	id, version, tables, err := identity(ctx, q)
	if err != nil {
		return false, f.Failure(path, err)
	}
	hasAll := !slices.ContainsFunc(f.Tables, func(t string) bool { return !slices.Contains(tables, t) })
	switch {
	case id == f.ApplicationID:
		return false, nil
	case id == 0 && len(tables) == 0:
		return false, nil // new
	case id == 0 && version >= 1 && hasAll:
		return true, nil
	}
	return false, f.notStoreError(path, id, tables)
}

// StartCheck is a store's integrity check at open: quick_check of the whole file when it
// and its WAL are at most max bytes (max < 0: never), else the bounded check. A corrupt
// file is errors.Is ErrCorrupt.
func (f *Format) StartCheck(ctx context.Context, q Querier, path string, max int64) error {
	var problems []string
	var err error
	check := "PRAGMA quick_check"
	if size := fileBytes(path); max >= 0 && size <= max {
		problems, err = f.pragmaCheck(ctx, q, "quick_check", "")
	} else {
		check = "the bounded check (QuickCheckMax < 0)"
		if max >= 0 {
			check = fmt.Sprintf("the bounded check of a store of %.1f MiB, over the %.1f MiB checked whole", float64(size)/(1<<20), float64(max)/(1<<20))
		}
		problems, err = f.boundedCheck(ctx, q)
	}
	if err != nil {
		return f.Failure(path, err)
	}
	if len(problems) > 0 {
		return f.corruptError(path, check, problems)
	}
	return nil
}

// boundedCheck is quick_check of the bounded tables and a read of the newest rows of the
// growing ones; a table the file lacks is skipped.
func (f *Format) boundedCheck(ctx context.Context, q Querier) ([]string, error) {
	_, _, tables, err := identity(ctx, q)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, t := range f.BoundedTables {
		if slices.Contains(tables, t) {
			p, err := f.pragmaCheck(ctx, q, "quick_check", t)
			if err != nil {
				return nil, err
			}
			for _, line := range p {
				problems = append(problems, t+": "+line)
			}
		}
	}
	for _, t := range f.GrowingTables {
		if !slices.Contains(tables, t) {
			continue
		}
		var n int
		query := fmt.Sprintf("SELECT count(*) FROM (SELECT rowid FROM %s ORDER BY rowid DESC LIMIT %d)", t, tailRows)
		if err := q.QueryRowContext(ctx, query).Scan(&n); f.isCorrupt(err) {
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
func (f *Format) pragmaCheck(ctx context.Context, q Querier, check, table string) ([]string, error) {
	query := "PRAGMA " + check
	if table != "" {
		query += "(" + table + ")"
	}
	rows, err := textRows(ctx, q, query)
	var findings []string
	for _, r := range rows {
		for _, line := range strings.Split(r, "\n") {
			if line != "ok" && line != "" && line != "*** in database main ***" {
				findings = append(findings, line)
			}
		}
	}
	if err != nil {
		if !f.isCorrupt(err) {
			return nil, err
		}
		findings = append(findings, fmt.Sprintf("%s stopped: %v", query, err))
	}
	return findings, nil
}

// textRows runs a query whose rows are one text column. On an error it returns the rows
// read before it too.
func textRows(ctx context.Context, q Querier, query string) ([]string, error) {
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

// Report is what Check found.
type Report struct {
	Path     string // absolute
	Missing  bool   // there is no file at Path yet: nothing to check
	Unmarked bool   // written by an earlier Junction, marked the next time it is opened
	Bytes    int64  // the file and its WAL
	// Problems are PRAGMA integrity_check's findings; none: the store is sound.
	Problems []string
	Took     time.Duration
}

// Check runs PRAGMA integrity_check over the whole file at path: every page, every index
// entry against its table, and the constraints. open opens the absolute path read-only
// (so the check may run while a store serves from the file: it then checks the last
// committed state). A file that is not of the format, or cannot be read, is an error.
func (f *Format) Check(ctx context.Context, path string, open func(abs string) (*sql.DB, error)) (Report, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Report{}, fmt.Errorf("%s: check %s: %w", f.Prefix, path, err)
	}
	rep := Report{Path: abs, Bytes: fileBytes(abs)}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		rep.Missing = true
		return rep, nil
	}
	db, err := open(abs)
	if err != nil {
		return rep, fmt.Errorf("%s: check %s: %w", f.Prefix, abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	start := time.Now()
	rep.Unmarked, err = f.Identify(ctx, db, abs)
	if err == nil {
		rep.Problems, err = f.pragmaCheck(ctx, db, "integrity_check", "")
	}
	rep.Took = time.Since(start)
	switch {
	case errors.Is(err, f.ErrNotStore):
		return rep, err
	case err != nil:
		return rep, fmt.Errorf("%s: check %s: %w", f.Prefix, abs, f.Failure(abs, err))
	}
	return rep, nil
}
