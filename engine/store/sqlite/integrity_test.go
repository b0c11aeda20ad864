package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sft "junction/internal/sqlitefile/sqlitefiletest"
)

// filledStore makes a closed store of n messages of about 2 KiB at path.
func filledStore(t *testing.T, path string, n int) {
	t.Helper()
	s, err := Open(path, Options{NoIndexer: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := newMsg("lab", "archive", "downstream")
		m.ControlID = fmt.Sprint("MSG", i)
		m.Raw = bytes.Repeat([]byte(fmt.Sprintf("OBX|%d|TX|||result text|\r", i)), 70)
		mustAccept(t, s, m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestANewStoreIsMarkedAsJunctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if id := sft.Pragma(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id = 0x%08X, want 0x%08X", id, ApplicationID)
	}
	if v := sft.Pragma(t, path, "user_version"); v != int64(schemaVersion) {
		t.Errorf("user_version = %d, want the schema version %d", v, schemaVersion)
	}
}

func TestAStoreOfAnEarlierJunctionIsAdoptedAndMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	filledStore(t, path, 3)
	sft.Exec(t, path, "PRAGMA application_id = 0")

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("an unmarked store with Junction's tables was refused: %v", err)
	}
	if got := get(t, s, 3); got.ControlID != "MSG2" {
		t.Errorf("message 3 after adoption has control id %q, want MSG2", got.ControlID)
	}
	s.Close()
	if id := sft.Pragma(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id after adoption = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAForeignSQLiteFileIsRefusedUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	sft.Exec(t, path, "CREATE TABLE foo (a)", "CREATE TABLE bar (b)", "INSERT INTO foo VALUES (1)")
	before, _ := os.ReadFile(path)

	_, err := Open(path, Options{})
	sft.WantError(t, err, ErrNotStore, "sqlite: "+path+" is not a Junction message store (application_id 0x00000000, tables: bar, foo): move it away or set store.path to another file")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open changed the foreign file")
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Error("Open left a -wal file next to the foreign file: it switched it to WAL")
	}
}

func TestAFileMarkedByAnotherApplicationIsRefused(t *testing.T) {
	for _, c := range []struct {
		id   int64
		want string
	}{
		{0x12345678, "(application_id 0x12345678, tables: none)"},
		{fhirStoreID, "(application_id 0x4A464852, a Junction FHIR store, tables: none)"},
	} {
		path := filepath.Join(t.TempDir(), "junction.db")
		sft.Exec(t, path, fmt.Sprintf("PRAGMA application_id = %d", c.id))
		_, err := Open(path, Options{})
		sft.WantError(t, err, ErrNotStore, path+" is not a Junction message store "+c.want)
	}
}

func TestAFileThatIsNotSQLiteIsRefusedByName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	text := []byte(strings.Repeat("this is a text file, not a database\n", 300))
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	sft.WantError(t, err, ErrNotStore, path+" is not a Junction message store: it is not a SQLite database", "file is not a database")
	if after, _ := os.ReadFile(path); !bytes.Equal(text, after) {
		t.Error("Open changed the file")
	}
}

func TestACorruptStoreIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	filledStore(t, path, 200)
	pages := sft.Pragma(t, path, "page_count")
	if pages < 30 {
		t.Fatalf("the store has %d pages, too few to damage its middle", pages)
	}
	sft.OverwritePages(t, path, pages/3, 2*pages/3)

	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
	}
	sft.WantError(t, err, ErrCorrupt, "sqlite: the message store "+path+" is corrupt (PRAGMA quick_check: \"Tree ", "junction store check")

	rep, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 {
		t.Error("Check found no problem in the damaged store")
	}
}

func TestABigStoreGetsTheBoundedCheckAtOpen(t *testing.T) {
	big := Options{QuickCheckMax: 1} // every store counts as big
	path := filepath.Join(t.TempDir(), "junction.db")
	filledStore(t, path, 20)
	s, err := Open(path, big)
	if err != nil {
		t.Fatalf("a sound store failed the bounded check: %v", err)
	}
	s.Close()

	for _, table := range []string{"queues", "messages"} {
		path := filepath.Join(t.TempDir(), "junction.db")
		filledStore(t, path, 20)
		root := sft.RootPage(t, path, table)
		sft.OverwritePages(t, path, root, root+1)
		s, err := Open(path, big)
		if err == nil {
			s.Close()
		}
		sft.WantError(t, err, ErrCorrupt, path+" is corrupt (the bounded check of a store of ", table)
	}
}

func TestAReadOnlyFolderIsReportedAsReadOnly(t *testing.T) {
	dir := sft.ReadOnlyDir(t)
	for _, path := range []string{filepath.Join(dir, "junction.db"), filepath.Join(dir, "data", "junction.db")} {
		_, err := Open(path, Options{})
		sft.WantError(t, err, ErrReadOnly, "sqlite: cannot write the message store "+path+": it or its folder is read-only", "set store.path")
		if err != nil && strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("error %q blames a missing file", err)
		}
	}
}

func TestCheckReportsSoundMissingAndForeignFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "junction.db")
	filledStore(t, path, 10)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAccept(t, s, newMsg("lab", "archive")) // the store is open and written: Check reads beside it
	rep, err := Check(ctx, path)
	if err != nil || len(rep.Problems) > 0 || rep.Missing || rep.Unmarked || rep.Bytes == 0 {
		t.Errorf("Check of a sound open store = %+v, %v; want no problems", rep, err)
	}

	rep, err = Check(ctx, filepath.Join(dir, "none.db"))
	if err != nil || !rep.Missing {
		t.Errorf("Check of a missing file = %+v, %v; want Missing", rep, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("Check created the missing file")
	}

	foreign := filepath.Join(dir, "foreign.db")
	sft.Exec(t, foreign, "CREATE TABLE foo (a)")
	if _, err := Check(ctx, foreign); !errors.Is(err, ErrNotStore) {
		t.Errorf("Check of a foreign file: %v, want %v", err, ErrNotStore)
	}
}
