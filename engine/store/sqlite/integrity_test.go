package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// rawDB opens a file with plain SQLite, as another program would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragmaInt(t *testing.T, path, pragma string) int64 {
	t.Helper()
	db := rawDB(t, path)
	var v int64
	if err := db.QueryRow("PRAGMA " + pragma).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s of %s: %v", pragma, path, err)
	}
	db.Close()
	return v
}

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

// overwritePages writes random bytes over pages [from, to) (numbered from 1) of a file
// of 4 KiB pages.
func overwritePages(t *testing.T, path string, from, to int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, defaultPageSize)
	for p := from; p < to; p++ {
		for i := range garbage {
			garbage[i] = byte(rnd.Uint32())
		}
		if _, err := f.WriteAt(garbage, (p-1)*defaultPageSize); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func wantFileError(t *testing.T, err, kind error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Open succeeded, want an error (%v)", kind)
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

func TestANewStoreIsMarkedAsJunctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if id := pragmaInt(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id = 0x%08X, want 0x%08X", id, ApplicationID)
	}
	if v := pragmaInt(t, path, "user_version"); v != schemaVersion {
		t.Errorf("user_version = %d, want the schema version %d", v, schemaVersion)
	}
}

func TestAStoreOfAnEarlierJunctionIsAdoptedAndMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	filledStore(t, path, 3)
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA application_id = 0"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("an unmarked store with Junction's tables was refused: %v", err)
	}
	if got := get(t, s, 3); got.ControlID != "MSG2" {
		t.Errorf("message 3 after adoption has control id %q, want MSG2", got.ControlID)
	}
	s.Close()
	if id := pragmaInt(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id after adoption = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAForeignSQLiteFileIsRefusedUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	db := rawDB(t, path)
	for _, q := range []string{"CREATE TABLE foo (a)", "CREATE TABLE bar (b)", "INSERT INTO foo VALUES (1)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	before, _ := os.ReadFile(path)

	_, err := Open(path, Options{})
	wantFileError(t, err, ErrNotStore, "sqlite: "+path+" is not a Junction message store (application_id 0x00000000, tables: bar, foo): move it away or set store.path to another file")
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
		db := rawDB(t, path)
		if _, err := db.Exec(fmt.Sprintf("PRAGMA application_id = %d", c.id)); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err := Open(path, Options{})
		wantFileError(t, err, ErrNotStore, path+" is not a Junction message store "+c.want)
	}
}

func TestAFileThatIsNotSQLiteIsRefusedByName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	text := []byte(strings.Repeat("this is a text file, not a database\n", 300))
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	wantFileError(t, err, ErrNotStore, path+" is not a Junction message store: it is not a SQLite database", "file is not a database")
	if after, _ := os.ReadFile(path); !bytes.Equal(text, after) {
		t.Error("Open changed the file")
	}
}

func TestACorruptStoreIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	filledStore(t, path, 200)
	pages := pragmaInt(t, path, "page_count")
	if pages < 30 {
		t.Fatalf("the store has %d pages, too few to damage its middle", pages)
	}
	overwritePages(t, path, pages/3, 2*pages/3)

	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
	}
	wantFileError(t, err, ErrCorrupt, "sqlite: the message store "+path+" is corrupt (PRAGMA quick_check: \"Tree ", "junction store check")

	rep, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 {
		t.Error("Check found no problem in the damaged store")
	}
}

// rootPage is the first page of a table's b-tree.
func rootPage(t *testing.T, path, table string) int64 {
	t.Helper()
	db := rawDB(t, path)
	var p int64
	if err := db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", table).Scan(&p); err != nil {
		t.Fatalf("root page of %s: %v", table, err)
	}
	db.Close()
	return p
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
		root := rootPage(t, path, table)
		overwritePages(t, path, root, root+1)
		s, err := Open(path, big)
		if err == nil {
			s.Close()
		}
		wantFileError(t, err, ErrCorrupt, path+" is corrupt (the bounded check of a store of ", table)
	}
}

// readOnlyDir is a folder no file can be created in: mode 0555, or for root (whom modes
// do not stop) a read-only tmpfs mounted there. It skips the test when neither works.
func readOnlyDir(t *testing.T) string {
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

func TestAReadOnlyFolderIsReportedAsReadOnly(t *testing.T) {
	dir := readOnlyDir(t)
	for _, path := range []string{filepath.Join(dir, "junction.db"), filepath.Join(dir, "data", "junction.db")} {
		_, err := Open(path, Options{})
		wantFileError(t, err, ErrReadOnly, "sqlite: cannot write the message store "+path+": it or its folder is read-only", "set store.path")
		if err != nil && strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("error %q blames a missing file", err)
		}
	}
}

func TestOpenFailuresAreNamedFromTheirCauses(t *testing.T) {
	const path = "/srv/junction/data/junction.db"
	other := errors.New("disk on fire")
	for _, c := range []struct {
		err  error
		kind error
		says string
	}{
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, ErrReadOnly, "it or its folder is read-only (attempt to write a readonly database)"},
		{&fs.PathError{Op: "mkdir", Path: "/srv/junction/data", Err: syscall.EROFS}, ErrReadOnly, "read-only (mkdir /srv/junction/data: read-only file system)"},
		{&fs.PathError{Op: "mkdir", Path: "/srv/junction/data", Err: syscall.EACCES}, ErrReadOnly, "read-only (mkdir /srv/junction/data: permission denied)"},
		{sqlite3.Error{Code: sqlite3.ErrNotADB}, ErrNotStore, "it is not a SQLite database (SQLite says \"file is not a database\")"},
		{sqlite3.Error{Code: sqlite3.ErrCorrupt}, ErrCorrupt, "is corrupt (reading it: \"database disk image is malformed\"; expected \"ok\")"},
		{other, other, "disk on fire"},
	} {
		err := openFailure(path, c.err)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("openFailure(%v) = %q, want %v saying %q", c.err, err, c.kind, c.says)
		}
		if c.kind != other && !strings.Contains(err.Error(), path) {
			t.Errorf("openFailure(%v) = %q, which does not name the file", c.err, err)
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
	db := rawDB(t, foreign)
	if _, err := db.Exec("CREATE TABLE foo (a)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Check(ctx, foreign); !errors.Is(err, ErrNotStore) {
		t.Errorf("Check of a foreign file: %v, want %v", err, ErrNotStore)
	}
}
