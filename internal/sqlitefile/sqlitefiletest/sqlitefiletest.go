// Package sqlitefiletest helps test what internal/sqlitefile checks: it opens files with
// plain SQLite, as another program would, damages their pages, and makes folders no file
// can be created in. It uses the database/sql driver named "sqlite3", which the test
// registers (importing github.com/mattn/go-sqlite3).
package sqlitefiletest

import (
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Exec runs statements on the file at path (creating it) with plain SQLite.
func Exec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db := open(t, path)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s on %s: %v", s, path, err)
		}
	}
}

// Pragma reads an integer pragma of the file at path, as "application_id".
func Pragma(t testing.TB, path, pragma string) int64 {
	t.Helper()
	return queryInt(t, path, "PRAGMA "+pragma)
}

// RootPage is the first page of a table's b-tree, numbered from 1.
func RootPage(t testing.TB, path, table string) int64 {
	t.Helper()
	return queryInt(t, path, "SELECT rootpage FROM sqlite_schema WHERE name = ?", table)
}

func queryInt(t testing.TB, path, query string, args ...any) int64 {
	t.Helper()
	db := open(t, path)
	defer db.Close()
	var v int64
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s of %s: %v", query, path, err)
	}
	return v
}

func open(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// OverwritePages writes random bytes over pages [from, to) of the file at path
// (numbered from 1), which no connection may hold open.
func OverwritePages(t testing.TB, path string, from, to int64) {
	t.Helper()
	size := Pragma(t, path, "page_size")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rnd := rand.New(rand.NewPCG(uint64(from), uint64(to)))
	garbage := make([]byte, size)
	for p := from; p < to; p++ {
		for i := range garbage {
			garbage[i] = byte(rnd.Uint32())
		}
		if _, err := f.WriteAt(garbage, (p-1)*size); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// WantError fails the test unless err is errors.Is kind and its message says every part.
func WantError(t testing.TB, err, kind error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one (%v)", kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// ReadOnlyDir is a folder no file can be created in: mode 0555, or for root (whom modes
// do not stop) a read-only tmpfs mounted there. It skips the test when neither works.
func ReadOnlyDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("running as root and cannot mount a read-only tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}
