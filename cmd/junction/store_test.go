package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/fhirstore"
)

func TestStoreCheckChecksTheMessageStoreAndEveryFHIRStore(t *testing.T) {
	dir := t.TempDir()
	cfg := `store: { path: data/junction.db }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: store, type: fhir-store }
      - { name: other, type: fhir-store, path: other/fhir.db }
  - name: oru
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - { name: same-store, type: fhir-store, path: data/fhir.db }
`
	config := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() (int, string) {
		code, out, errOut := capture(t, func() int { return storeCmd([]string{"check", "-config", config}) })
		if errOut != "" {
			t.Errorf("store check wrote to stderr: %s", errOut)
		}
		return code, out
	}
	messages := filepath.Join(dir, "data", "junction.db")
	fhir, other := filepath.Join(dir, "data", "fhir.db"), filepath.Join(dir, "other", "fhir.db")

	code, out := run()
	if code != 0 || strings.Count(out, "no such file yet") != 3 {
		t.Fatalf("before the first start: exit %d, want 0 and three files not created yet:\n%s", code, out)
	}

	ms, err := sqlite.Open(messages, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Accept(context.Background(), &engine.NewMessage{Channel: "adt", Status: engine.StatusFiltered, DataType: "Hl7v2", Raw: []byte("MSH|^~\\&|\r")}); err != nil {
		t.Fatal(err)
	}
	ms.Close()
	for _, p := range []string{fhir, other} {
		fs, err := fhirstore.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fs.Close()
	}
	code, out = run()
	for _, want := range []string{messages + ": message store: ok (PRAGMA integrity_check of ", fhir + ": FHIR store: ok", other + ": FHIR store: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("sound stores: output does not say %q:\n%s", want, out)
		}
	}
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("sound stores: exit %d, want 0 and one line a file:\n%s", code, out)
	}

	// Damage the other FHIR store's pages after the first two (the schema).
	damage(t, other)
	code, out = run()
	if code != 1 || !strings.Contains(out, other+": FHIR store: CORRUPT: PRAGMA integrity_check of ") || !strings.Contains(out, fhir+": FHIR store: ok") {
		t.Errorf("a damaged FHIR store: exit %d, want 1 and it named as corrupt:\n%s", code, out)
	}

	if err := os.WriteFile(messages, []byte(strings.Repeat("not a database\n", 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(messages + "-wal")
	os.Remove(messages + "-shm")
	code, out = run()
	if code != 1 || !strings.Contains(out, messages+": message store: cannot be checked: sqlite: "+messages+" is not a Junction message store") {
		t.Errorf("a message store that is not one: exit %d:\n%s", code, out)
	}
}

// damage writes garbage over a store's pages 3 to 6 (it has at least that many).
func damage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", 4*4096/4)), 2*4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreWithoutCheckPrintsItsUsage(t *testing.T) {
	code, out, errOut := capture(t, func() int { return storeCmd(nil) })
	if code != 2 || out != "" || !strings.Contains(errOut, "usage: junction store check [-config routes.yaml]") {
		t.Errorf("junction store: exit %d, stdout %q, stderr %q; want 2 and the usage", code, out, errOut)
	}
}
