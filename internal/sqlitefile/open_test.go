package sqlitefile_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/internal/sqlitefile"
)

func TestAFileWhoseNameHoldsURICharactersIsOpenedForWritingAndReadingInWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a?b#c%d e.db")
	w, err := sqlitefile.OpenWriter(path, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := sqlitefile.UseWAL(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	r, err := sqlitefile.OpenReader(path, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var x int
	if err := r.QueryRow("SELECT x FROM t").Scan(&x); err != nil || x != 42 {
		t.Fatalf("read %d, %v", x, err)
	}
	if _, err := r.Exec("INSERT INTO t VALUES (1)"); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a reader wrote: %v", err)
	}
	var sync int
	if err := w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("writer synchronous = %d (%v), want 2 (FULL)", sync, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "a?b#c%d e.db-wal")); len(m) != 1 {
		t.Fatalf("no WAL beside %s", path)
	}
}
