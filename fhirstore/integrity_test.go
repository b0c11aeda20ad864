package fhirstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sft "junction/internal/sqlitefile/sqlitefiletest"
)

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

func TestANewFHIRStoreIsMarkedAsJunctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 1)
	if id := sft.Pragma(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAFHIRStoreOfAnEarlierJunctionIsAdoptedAndMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 2)
	sft.Exec(t, path, "PRAGMA application_id = 0")

	s, err := Open(path)
	if err != nil {
		t.Fatalf("an unmarked store with the FHIR store's tables was refused: %v", err)
	}
	read(t, s, "Patient", "p1")
	s.Close()
	if id := sft.Pragma(t, path, "application_id"); id != ApplicationID {
		t.Errorf("application_id after adoption = 0x%08X, want 0x%08X", id, ApplicationID)
	}
}

func TestAForeignFileIsRefusedAsAFHIRStore(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	sft.Exec(t, foreign, "CREATE TABLE patients (name)")
	before, _ := os.ReadFile(foreign)
	_, err := Open(foreign)
	sft.WantError(t, err, ErrNotStore, "fhirstore: "+foreign+" is not a Junction FHIR store (application_id 0x00000000, tables: patients): move it away or set the fhir-store destination's path to another file")
	if after, _ := os.ReadFile(foreign); !bytes.Equal(before, after) {
		t.Error("Open changed the foreign file")
	}

	messages := filepath.Join(dir, "junction.db")
	sft.Exec(t, messages, fmt.Sprintf("PRAGMA application_id = %d", messageStoreID), "CREATE TABLE messages (id)")
	_, err = Open(messages)
	sft.WantError(t, err, ErrNotStore, messages+" is not a Junction FHIR store (application_id 0x4A4E4354, a Junction message store, tables: messages)")

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a database\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(text)
	sft.WantError(t, err, ErrNotStore, text+" is not a Junction FHIR store: it is not a SQLite database")
}

func TestACorruptFHIRStoreIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	filledStore(t, path, 100)
	pages := sft.Pragma(t, path, "page_count")
	if pages < 30 {
		t.Fatalf("the store has %d pages, too few to damage its middle", pages)
	}
	sft.OverwritePages(t, path, pages/3, 2*pages/3)

	s, err := Open(path)
	if err == nil {
		s.Close()
	}
	sft.WantError(t, err, ErrCorrupt, "fhirstore: the FHIR store "+path+" is corrupt (PRAGMA quick_check: ", "junction store check")

	rep, err := Check(context.Background(), path)
	if err != nil || len(rep.Problems) == 0 {
		t.Errorf("Check of the damaged store = %+v, %v; want problems", rep, err)
	}
}

func TestAFHIRStoreInAReadOnlyFolderIsReportedAsReadOnly(t *testing.T) {
	dir := sft.ReadOnlyDir(t)
	for _, path := range []string{filepath.Join(dir, "fhir.db"), filepath.Join(dir, "data", "fhir.db")} {
		_, err := Open(path)
		sft.WantError(t, err, ErrReadOnly, "fhirstore: cannot write the FHIR store "+path+": it or its folder is read-only")
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
