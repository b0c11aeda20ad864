package hl7tofhir

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// awkward are strings whose JSON form differs from them, at offsets that
// fall inside and across the 8-byte words jsonStringSize skips.
var awkward = []string{"", "plain", `quote " and \ back`, "tab\tnew\nline\rcr", "\x00\x1f\x7f",
	"Fernández Ørsted 日本語", "line\u2028sep\u2029", "bad \xff utf-8 \xc3", strings.Repeat("abcdefg\"", 9),
	strings.Repeat("x", 63) + "\n", strings.Repeat("é", 40) + "\x01", "A&E <b>"}

func TestJSONSizeIsTheLengthOfTheJSON(t *testing.T) {
	o := obj("list", []any{1, -42, true, false, nil, json.Number("1.50"), obj(), []any{}})
	for i, s := range awkward {
		o.Set("k"+s, s)
		o.Set(strings.Repeat("n", i), obj("v", s, "nested", []any{s, obj("deep", s)}))
	}
	for _, indent := range []bool{false, true} {
		out := appendJSON(nil, o, indent, 0)
		if got := jsonSize(o, indent, 0); got != len(out) {
			t.Errorf("indent %v: jsonSize = %d, len = %d", indent, got, len(out))
		}
		if !json.Valid(out) {
			t.Errorf("indent %v: invalid JSON: %s", indent, out)
		}
	}
}

// Each Bundle's JSON takes one allocation of exactly its size: a large one
// grown in steps would allocate several times its size.
func TestBundleJSONTakesOneAllocationOfItsSize(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.hl7")
	for _, f := range files {
		res := convertFile(t, filepath.Base(f), goldenOptions(t))
		var compact, indented []byte
		if n := testing.AllocsPerRun(5, func() { compact, _ = res.Bundle.MarshalJSON() }); n != 1 || cap(compact) != len(compact) {
			t.Errorf("%s: MarshalJSON allocated %.0f times, %d bytes for %d", f, n, cap(compact), len(compact))
		}
		if n := testing.AllocsPerRun(5, func() { indented = res.JSON() }); n != 1 || cap(indented) != len(indented) {
			t.Errorf("%s: JSON allocated %.0f times, %d bytes for %d", f, n, cap(indented), len(indented))
		}
	}
}
