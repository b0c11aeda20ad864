package sqlitefile

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"

	sft "junction/internal/sqlitefile/sqlitefiletest"
)

const (
	testID  = 0x54455354 // "TEST"
	otherID = 0x4F544852 // "OTHR"
)

var (
	errNotStore = errors.New("not a test store")
	errCorrupt  = errors.New("the test store is corrupt")
	errReadOnly = errors.New("the test store is read-only")
)

// testFormat is a store of a small table, items, and a growing one, log.
var testFormat = &Format{
	ApplicationID: testID,
	Prefix:        "test",
	Noun:          "test store",
	Elsewhere:     "set test.path",
	Damaged:       "restore it from a backup",
	Others:        map[uint32]string{otherID: "another store"},
	Tables:        []string{"items", "log"},
	BoundedTables: []string{"items", "settings"}, // settings: a table of a later schema
	GrowingTables: []string{"log", "audit"},
	ErrNotStore:   errNotStore,
	ErrCorrupt:    errCorrupt,
	ErrReadOnly:   errReadOnly,
	Driver: func(err error) (de DriverError, ok bool) {
		var se sqlite3.Error
		if ok = errors.As(err, &se); ok {
			de = DriverError{Code: Code(se.Code), Errno: se.SystemErrno, Msg: se.Error()}
		}
		return de, ok
	},
}

// testStore makes a marked test store at path: 200 items and n log rows of 2 KiB.
func testStore(t *testing.T, path string, n int) {
	t.Helper()
	sft.Exec(t, path,
		"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)",
		"CREATE TABLE log (id INTEGER PRIMARY KEY, body BLOB)",
		"WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM i WHERE n < 200) INSERT INTO items (name) SELECT 'item ' || n FROM i",
		fmt.Sprintf("WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM i WHERE n < %d) INSERT INTO log (body) SELECT randomblob(2048) FROM i", n),
		fmt.Sprintf("PRAGMA application_id = %d", testID),
		"PRAGMA user_version = 1")
}

// rawDB opens path for the checks, closed with the test.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func identify(t *testing.T, path string) (bool, error) {
	t.Helper()
	return testFormat.Identify(context.Background(), rawDB(t, path), path)
}

func TestAMarkedANewAndAnEarlierUnmarkedFileAreTaken(t *testing.T) {
	dir := t.TempDir()
	marked, empty, unmarked := filepath.Join(dir, "marked.db"), filepath.Join(dir, "empty.db"), filepath.Join(dir, "unmarked.db")
	testStore(t, marked, 1)
	testStore(t, unmarked, 1)
	sft.Exec(t, unmarked, "PRAGMA application_id = 0")
	for _, c := range []struct {
		path     string
		unmarked bool
	}{{marked, false}, {empty, false}, {unmarked, true}} {
		if got, err := identify(t, c.path); err != nil || got != c.unmarked {
			t.Errorf("Identify(%s) = %v, %v; want %v, nil", filepath.Base(c.path), got, err, c.unmarked)
		}
	}
	if n := sft.Pragma(t, unmarked, "application_id"); n != 0 {
		t.Errorf("Identify marked the file (application_id 0x%08X): it is to write nothing", n)
	}
}

func TestAnUnmarkedFileLackingATableOrAVersionIsRefused(t *testing.T) {
	dir := t.TempDir()
	noVersion, noTable := filepath.Join(dir, "noversion.db"), filepath.Join(dir, "notable.db")
	testStore(t, noVersion, 1)
	sft.Exec(t, noVersion, "PRAGMA application_id = 0", "PRAGMA user_version = 0")
	testStore(t, noTable, 1)
	sft.Exec(t, noTable, "PRAGMA application_id = 0", "DROP TABLE log")
	for _, path := range []string{noVersion, noTable} {
		_, err := identify(t, path)
		sft.WantError(t, err, errNotStore, "test: "+path+" is not a Junction test store (application_id 0x00000000, tables: ")
	}
}

func TestAForeignFileIsRefusedUnchangedNamingItsMarkAndTables(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	sft.Exec(t, foreign, "CREATE TABLE foo (a)", "CREATE TABLE bar (b)", "INSERT INTO foo VALUES (1)")
	before, _ := os.ReadFile(foreign)
	_, err := identify(t, foreign)
	sft.WantError(t, err, errNotStore, "test: "+foreign+" is not a Junction test store (application_id 0x00000000, tables: bar, foo): move it away or set test.path to another file")
	if after, _ := os.ReadFile(foreign); !bytes.Equal(before, after) {
		t.Error("Identify changed the foreign file")
	}

	other, many := filepath.Join(dir, "other.db"), filepath.Join(dir, "many.db")
	sft.Exec(t, other, fmt.Sprintf("PRAGMA application_id = %d", otherID))
	_, err = identify(t, other)
	sft.WantError(t, err, errNotStore, "(application_id 0x4F544852, another store, tables: none)")
	for i := range 10 {
		sft.Exec(t, many, fmt.Sprintf("CREATE TABLE t%d (a)", i))
	}
	_, err = identify(t, many)
	sft.WantError(t, err, errNotStore, "tables: t0, t1, t2, t3, t4, t5, t6, t7 and 2 more)")
}

func TestAFileThatIsNotSQLiteIsRefusedAsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	text := bytes.Repeat([]byte("this is a text file, not a database\n"), 300)
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := identify(t, path)
	sft.WantError(t, err, errNotStore, "test: "+path+" is not a Junction test store: it is not a SQLite database (SQLite says \"file is not a database\"): move it away or set test.path to another file")
	if after, _ := os.ReadFile(path); !bytes.Equal(text, after) {
		t.Error("Identify changed the file")
	}
}

func TestADamagedFileFailsTheQuickCheckAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	testStore(t, path, 100)
	ctx := context.Background()
	if err := testFormat.StartCheck(ctx, rawDB(t, path), path, 1<<30); err != nil {
		t.Fatalf("a sound file failed the check: %v", err)
	}
	pages := sft.Pragma(t, path, "page_count")
	sft.OverwritePages(t, path, pages/3, 2*pages/3)
	err := testFormat.StartCheck(ctx, rawDB(t, path), path, 1<<30)
	sft.WantError(t, err, errCorrupt, "test: the test store "+path+" is corrupt (PRAGMA quick_check: ", "more problems; expected \"ok\"). restore it from a backup; `junction store check` lists every problem")
}

func TestABigFileGetsTheBoundedCheckOfItsTablesThatExist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	testStore(t, path, 100)
	for _, max := range []int64{1, -1} {
		if err := testFormat.StartCheck(ctx, rawDB(t, path), path, max); err != nil {
			t.Errorf("a sound file failed the bounded check (max %d): %v", max, err)
		}
	}
	for _, c := range []struct {
		table string
		max   int64
		says  []string
	}{
		{"items", 1, []string{"(the bounded check of a store of ", " MiB, over the 0.0 MiB checked whole: \"items: "}},
		{"log", 1, []string{"reading the newest rows of log: database disk image is malformed"}},
		{"log", -1, []string{"(the bounded check (QuickCheckMax < 0): \"reading the newest rows of log"}},
	} {
		path := filepath.Join(t.TempDir(), "test.db")
		testStore(t, path, 100)
		root := sft.RootPage(t, path, c.table)
		sft.OverwritePages(t, path, root, root+1)
		err := testFormat.StartCheck(ctx, rawDB(t, path), path, c.max)
		sft.WantError(t, err, errCorrupt, c.says...)
	}
}

func TestFailuresAreNamedFromTheirCauses(t *testing.T) {
	const path = "/srv/junction/data/test.db"
	other := errors.New("disk on fire")
	for _, c := range []struct {
		err  error
		kind error
		says string
	}{
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, errReadOnly, "test: cannot write the test store " + path + ": it or its folder is read-only (attempt to write a readonly database). The store writes the file and creates its -wal and -shm files next to it: make the folder writable by this user or set test.path to a writable place"},
		{&fs.PathError{Op: "mkdir", Path: "/srv/junction/data", Err: syscall.EROFS}, errReadOnly, "read-only (mkdir /srv/junction/data: read-only file system)"},
		{&fs.PathError{Op: "mkdir", Path: "/srv/junction/data", Err: syscall.EACCES}, errReadOnly, "read-only (mkdir /srv/junction/data: permission denied)"},
		{sqlite3.Error{Code: sqlite3.ErrNotADB}, errNotStore, "it is not a SQLite database (SQLite says \"file is not a database\")"},
		{sqlite3.Error{Code: sqlite3.ErrCorrupt}, errCorrupt, "is corrupt (reading it: \"database disk image is malformed\"; expected \"ok\")"},
		{fmt.Errorf("journal_mode: %w", sqlite3.Error{Code: sqlite3.ErrCorrupt}), errCorrupt, "is corrupt (reading it: \"database disk image is malformed\""},
		{other, other, "disk on fire"},
	} {
		err := testFormat.Failure(path, c.err)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Failure(%v) = %q, want %v saying %q", c.err, err, c.kind, c.says)
		}
		if c.kind != other && !strings.Contains(err.Error(), path) {
			t.Errorf("Failure(%v) = %q, which does not name the file", c.err, err)
		}
		if again := testFormat.OpenError(path, err); again != err {
			if c.kind != other || again.Error() != "test: open "+path+": disk on fire" || !errors.Is(again, other) {
				t.Errorf("OpenError(%q) = %q, want the file's error as it is, another prefixed", err, again)
			}
		}
	}
}

func TestAFileThatCannotBeCreatedIsNamedReadOnly(t *testing.T) {
	path := filepath.Join(sft.ReadOnlyDir(t), "test.db")
	_, err := identify(t, path)
	sft.WantError(t, err, errReadOnly, "test: cannot write the test store "+path+": it or its folder is read-only")
}

func TestCheckReportsSoundMissingUnmarkedForeignAndDamagedFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opened := 0
	check := func(path string) (Report, error) {
		return testFormat.Check(ctx, path, func(abs string) (*sql.DB, error) {
			opened++
			return sql.Open("sqlite3", "file:"+abs+"?mode=ro")
		})
	}
	sound := filepath.Join(dir, "sound.db")
	testStore(t, sound, 20)
	rep, err := check(sound)
	if err != nil || len(rep.Problems) > 0 || rep.Missing || rep.Unmarked || rep.Bytes == 0 || rep.Path != sound {
		t.Errorf("Check of a sound file = %+v, %v; want no problems", rep, err)
	}

	missing := filepath.Join(dir, "none.db")
	if rep, err := check(missing); err != nil || !rep.Missing || opened != 1 {
		t.Errorf("Check of a missing file = %+v, %v (opened %d files); want Missing, without opening it", rep, err, opened)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("Check created the missing file")
	}

	sft.Exec(t, sound, "PRAGMA application_id = 0")
	if rep, err := check(sound); err != nil || !rep.Unmarked {
		t.Errorf("Check of an unmarked file = %+v, %v; want Unmarked", rep, err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	sft.Exec(t, foreign, "CREATE TABLE foo (a)")
	_, err = check(foreign)
	sft.WantError(t, err, errNotStore, "test: "+foreign+" is not a Junction test store")

	damaged := filepath.Join(dir, "damaged.db")
	testStore(t, damaged, 100)
	pages := sft.Pragma(t, damaged, "page_count")
	sft.OverwritePages(t, damaged, pages/3, 2*pages/3)
	if rep, err := check(damaged); err != nil || len(rep.Problems) < 2 {
		t.Errorf("Check of a damaged file = %+v, %v; want its problems", rep, err)
	}
}
