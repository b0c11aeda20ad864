package hl7tofhir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryMessyMessageConvertsWithTheWarningsExpected converts each
// testdata/messy/*.hl7, messages shaped like real feeds' faults (repeated
// NM values, Y/N fields in words, unknown OBX-2 types, Z-segments, bad
// dates, LF line ends, trailing garbage, a doubled MSH-2, ...): each must
// convert, to valid FHIR with a Patient, with exactly the warnings (and
// segments left out) in its .warnings.txt.
func TestEveryMessyMessageConvertsWithTheWarningsExpected(t *testing.T) {
	files, _ := filepath.Glob("testdata/messy/*.hl7")
	if len(files) < 25 {
		t.Fatalf("found %d messy messages, expected at least 25", len(files))
	}
	conv, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hl7")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := conv.Convert(raw)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			body := res.JSON()
			checkFHIR(t, body)
			if len(resources(t, res, "Patient")) == 0 {
				t.Errorf("the Bundle has no Patient")
			}
			got := warningsReport(res)
			want := strings.TrimSuffix(f, ".hl7") + ".warnings.txt"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantText, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./hl7tofhir -run TestEveryMessy -update to create it)", err)
			}
			if got != string(wantText) {
				t.Errorf("warnings differ from %s\n got:\n%s\nwant:\n%s", want, got, wantText)
			}
		})
	}
}

// warningsReport lists a conversion's warnings, then the segments it left
// out, one a line.
func warningsReport(res *Result) string {
	var b strings.Builder
	for _, w := range res.Warnings {
		b.WriteString(w.Error() + "\n")
	}
	for _, s := range res.Ignored {
		b.WriteString("ignored: " + s + "\n")
	}
	return b.String()
}
