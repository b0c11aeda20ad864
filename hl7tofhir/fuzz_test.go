package hl7tofhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"junction/internal/jsontext"
)

// FuzzConvert checks that no message makes Convert panic, that a Bundle it
// makes renders as valid JSON sized exactly, and that its warnings stay
// bounded. The messy and ADT corpora seed it, so the lenient paths (values
// kept as strings, components, mended text, merges) are where it starts.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hl7")
	for _, dir := range []string{"testdata/messy/*.hl7", "testdata/adt/*.hl7"} {
		more, _ := filepath.Glob(dir)
		files = append(files, more...)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	c, err := NewConverter(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := c.Convert(raw)
		if err != nil {
			return
		}
		if len(res.Warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings, more than the bound %d", len(res.Warnings), maxWarnings+1)
		}
		if res.PatientID == "" {
			t.Fatalf("a Bundle without a Patient: %s", res.JSON())
		}
		out, _ := res.Bundle.MarshalJSON()
		if cap(out) != len(out) || !json.Valid(out) {
			t.Fatalf("Bundle JSON: %d bytes for %d, valid %v:\n%s", cap(out), len(out), json.Valid(out), out)
		}
	})
}

// FuzzJSONStringSize checks the sizing of JSON strings against the writer.
func FuzzJSONStringSize(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := jsonStringSize(s), len(jsontext.AppendString(nil, s)); got != want {
			t.Fatalf("jsonStringSize(%q) = %d, want %d", s, got, want)
		}
	})
}
