package fhir

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// FuzzJSONPos: the JSON-with-positions parser never panics or hangs, gives positions inside
// the text, and, for a document it takes, keeps its step count within a constant factor of
// the document's length.
func FuzzJSONPos(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"a","id":"b"}`,
		"{\n  \"a\" : [ 1, 2.50, -0e+3, true, null, \"x\\u00e6\" ],\n  // c\n  \"b\" : { /* d */ }\n}",
		`{"a":{"b":{"c":[[[{}]]]}}}`,
		"\xef\xbb\xbf{\"a\":\"\\/\"}",
		`{"a":1 /* x`, `{"a":`, `[`, `"`, `/`, `{"a":01}`, `{"a":1e400}`,
		string(readFile(f, "testdata/resources/bundle-valid.json")),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p := &jsonParser{src: src, line: 1, col: 1}
		n, err := p.parse()
		lines := bytes.Count(src, []byte("\n")) + 1
		if err != nil {
			je, ok := err.(*JSONError)
			if !ok {
				t.Fatalf("error %T %v, want a *JSONError", err, err)
			}
			if je.Line < 1 || je.Line > lines || je.Col < 1 {
				t.Fatalf("error at %d:%d outside the text (%d lines)", je.Line, je.Col, lines)
			}
			return
		}
		if p.work > 4*len(src)+16 {
			t.Fatalf("%d steps for %d bytes", p.work, len(src))
		}
		checkPositions(t, n, lines)
	})
}

func checkPositions(t *testing.T, root *jsonNode, lines int) {
	t.Helper()
	stack := []*jsonNode{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.line < 1 || n.line > lines || n.col < 1 {
			t.Fatalf("value at %d:%d outside the text (%d lines)", n.line, n.col, lines)
		}
		for _, p := range n.props {
			stack = append(stack, p.value)
		}
		stack = append(stack, n.items...)
	}
}

// The parser's work and allocations grow linearly: 8 times the input costs about 8 times
// as much, for wide objects (duplicate detection), long arrays, deep nesting, comments and
// whitespace. Counted in steps and allocations, never in wall time.
func TestJSONPosIsLinear(t *testing.T) {
	shapes := map[string]func(k int) string{
		"wide object": func(k int) string {
			var b strings.Builder
			b.WriteString("{")
			for i := range k {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`"p` + strings.Repeat("x", i%7) + strconv.Itoa(i) + `":1`)
			}
			return b.String() + "}"
		},
		"duplicate keys": func(k int) string {
			return "{" + strings.Repeat(`"a":1,`, k) + `"a":1}`
		},
		"long array": func(k int) string { return "[" + strings.Repeat(`{"a":[1,"x",null]},`, k) + "0]" },
		"nesting": func(k int) string {
			return "[" + strings.Repeat(strings.Repeat(`{"a":[`, 40)+"1"+strings.Repeat("]}", 40)+",", k) + "0]"
		},
		"comments":   func(k int) string { return "{" + strings.Repeat("/* c */ // d\n \"a\" : 1 ,", k) + `"b":2}` },
		"whitespace": func(k int) string { return "{" + strings.Repeat(" \n\t", 40*k) + `"a":1}` },
	}
	for name, gen := range shapes {
		small, large := []byte(gen(150)), []byte(gen(1200))
		ws, wl := parseWork(t, small), parseWork(t, large)
		ratio := float64(len(large)) / float64(len(small))
		if float64(wl) > 1.5*ratio*float64(ws)+64 {
			t.Errorf("%s: %d steps for %d bytes but %d for %d: not linear", name, ws, len(small), wl, len(large))
		}
		as := testing.AllocsPerRun(3, func() { _, _ = parseJSON(small) })
		al := testing.AllocsPerRun(3, func() { _, _ = parseJSON(large) })
		if al > 1.5*ratio*as+64 {
			t.Errorf("%s: %.0f allocations for %d bytes but %.0f for %d: not linear", name, as, len(small), al, len(large))
		}
	}
}

func parseWork(t *testing.T, src []byte) int {
	t.Helper()
	p := &jsonParser{src: src, line: 1, col: 1}
	if _, err := p.parse(); err != nil {
		t.Fatal(err)
	}
	return p.work
}
