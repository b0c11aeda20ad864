package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheCommittedReferenceDocsAreWhatJunctionDocsWrites(t *testing.T) {
	for name, want := range generatedDocs() {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Errorf("docs/%s: %v (run `go run ./cmd/junction docs`)", name, err)
			continue
		}
		if string(got) != want {
			t.Errorf("docs/%s differs from what the specs say: run `go run ./cmd/junction docs` and commit the result (first difference at line %d)", name, firstDiffLine(string(got), want))
		}
	}
}

func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func TestJunctionDocsWritesBothReferences(t *testing.T) {
	dir := t.TempDir()
	if code := docsCmd([]string{"-out", dir}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []struct{ file, want string }{
		{"connectors.md", "### `ingest` source"},
		{"connectors.md", "### `file` destination"},
		{"connectors.md", "| `retry.backoff` | duration | `1s` |"},
		{"connectors.md", "| `auth.issuer` | text |  | yes, in auth |"},
		{"expressions.md", "### `toFHIR`"},
		{"expressions.md", "`upper`"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil || !strings.Contains(string(b), c.want) {
			t.Errorf("%s lacks %q (%v)", c.file, c.want, err)
		}
	}
}
