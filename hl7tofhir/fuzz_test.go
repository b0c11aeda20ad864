package hl7tofhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"junction/internal/jsontext"
)

// FuzzConvert checks that no message makes Convert panic, and that a
// Bundle it makes renders as valid JSON sized exactly.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hl7")
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
