package fhirstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// filledStore makes a closed store at path holding n patients of about 2 KiB each.
func filledStore(t *testing.T, path string, n int) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","name":[{"family":"Fernández","given":["Ana"]}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"}}`,
			i, strings.Repeat(fmt.Sprintf("patient %d ", i), 200))
		if _, err := s.Apply(context.Background(), []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
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

func TestANewFHIRStoreIsMarkedAsJunctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 1)
	if id := pragmaInt(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAFHIRStoreOfAnEarlierJunctionIsAdoptedAndMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 2)
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA application_id = 0"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("an unmarked store with the FHIR store's tables was refused: %v", err)
	}
	read(t, s, "Patient", "p1")
	s.Close()
	if id := pragmaInt(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id after adoption = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAForeignFileIsRefusedAsAFHIRStore(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db := rawDB(t, foreign)
	if _, err := db.Exec("CREATE TABLE patients (name)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(foreign)
	_, err := Open(foreign)
	wantFileError(t, err, ErrNotStore, "fhirstore: "+foreign+" is not a Junction FHIR store (application_id 0x00000000, tables: patients): move it away or set the fhir-store destination's path to another file")
	if after, _ := os.ReadFile(foreign); !bytes.Equal(before, after) {
		t.Error("Open changed the foreign file")
	}

	messages := filepath.Join(dir, "junction.db")
	db = rawDB(t, messages)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA application_id = %d; CREATE TABLE messages (id)", messageStoreID)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(messages)
	wantFileError(t, err, ErrNotStore, messages+" is not a Junction FHIR store (application_id 0x4A4E4354, a Junction message store, tables: messages)")

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a database\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(text)
	wantFileError(t, err, ErrNotStore, text+" is not a Junction FHIR store: it is not a SQLite database")
}

func TestACorruptFHIRStoreIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 100)
	pages := pragmaInt(t, path, "page_count")
	size := pragmaInt(t, path, "page_size")
	if pages < 30 {
		t.Fatalf("the store has %d pages, too few to damage its middle", pages)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, (pages/3)*size)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(rnd.Uint32())
	}
	if _, err := f.WriteAt(garbage, (pages/3)*size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path)
	if err == nil {
		s.Close()
	}
	wantFileError(t, err, ErrCorrupt, "fhirstore: the FHIR store "+path+" is corrupt (PRAGMA quick_check: ", "junction store check")

	rep, err := Check(context.Background(), path)
	if err != nil || len(rep.Problems) == 0 {
		t.Errorf("Check of the damaged store = %+v, %v; want problems", rep, err)
	}
}

func TestAFHIRStoreInAReadOnlyFolderIsReportedAsReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	} else {
		// Modes do not stop root: a read-only tmpfs does.
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Skipf("running as root and cannot mount a read-only tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v %s", dir, err, out)
			}
		})
	}
	for _, path := range []string{filepath.Join(dir, "fhir.db"), filepath.Join(dir, "data", "fhir.db")} {
		_, err := Open(path)
		wantFileError(t, err, ErrReadOnly, "fhirstore: cannot write the FHIR store "+path+": it or its folder is read-only")
		if err != nil && strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("error %q blames a missing file", err)
		}
	}
}

func TestCheckReportsASoundFHIRStoreAndAMissingOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fhir.db")
	filledStore(t, path, 5)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := Check(context.Background(), path)
	if err != nil || len(rep.Problems) > 0 || rep.Missing || rep.Bytes == 0 {
		t.Errorf("Check of a sound open store = %+v, %v; want no problems", rep, err)
	}
	rep, err = Check(context.Background(), filepath.Join(dir, "none.db"))
	if err != nil || !rep.Missing {
		t.Errorf("Check of a missing file = %+v, %v; want Missing", rep, err)
	}
}
