package engine

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/transforms"
)

// buildLookups reads the top-level lookups: block into lib, each table either inline
//
//	lookups:
//	  wards: { A1: Acute Medicine, B2: Cardiology }
//
// or from a CSV file with a header row (relative to routes.yaml's folder), key and value
// naming its columns (by default the first and the second):
//
//	facilities: { file: lookups/facilities.csv, key: code, value: name }
//
// A table with a file: key is read from the file: an inline table cannot have a key named
// file. Scripts call lookup("wards", key) or lookup("wards", key, "default").
func buildLookups(root *Node, lib *transforms.Library) {
	m := root.Map("lookups", false)
	if m == nil {
		return
	}
	m.Path = "lookups"
	for i := 0; i+1 < len(m.Y.Content); i += 2 {
		k, v := m.Y.Content[i], deref(m.Y.Content[i+1])
		path := "lookups." + k.Value
		if !namePattern.MatchString(k.Value) {
			m.ErrorAt(k, path, "table names use letters, digits, '-', '_' and '.', got %q", k.Value)
			continue
		}
		t := m.Sub(v, path)
		if t == nil {
			continue
		}
		var table map[string]string
		if t.Has("file") {
			table = csvTable(t)
		} else {
			table = inlineTable(t)
		}
		// A table that could not be read is still known (empty): scripts naming it are
		// not told it does not exist.
		lib.AddTable(k.Value, table)
	}
}

func inlineTable(t *Node) map[string]string {
	table := make(map[string]string, len(t.Y.Content)/2)
	for i := 0; i+1 < len(t.Y.Content); i += 2 {
		k, v := t.Y.Content[i], deref(t.Y.Content[i+1])
		switch {
		case v.Kind != yaml.ScalarNode:
			t.ErrorAt(v, t.Path+"."+k.Value, "expected a text value, got %s", describe(v))
		case v.Tag == "!!null":
			table[k.Value] = ""
		default:
			table[k.Value] = v.Value
		}
	}
	return table
}

// csvTable reads a table from its CSV file.
func csvTable(t *Node) map[string]string {
	file := t.String("file", true, "")
	keyCol, valCol := t.String("key", false, ""), t.String("value", false, "")
	t.CheckUnknown()
	if file == "" {
		return nil
	}
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(t.File), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.ErrorAt(t.Raw("file"), t.Path+".file", "cannot read %s: %v", path, errors.Unwrap(err))
		return nil
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	header, err := r.Read()
	if err != nil {
		t.ErrorAt(t.Raw("file"), t.Path+".file", "%s: %v", file, csvProblem(err, "expected a header row naming the columns"))
		return nil
	}
	ki, vi := column(t, header, "key", keyCol, 0), column(t, header, "value", valCol, 1)
	if ki < 0 || vi < 0 {
		return nil
	}
	table := map[string]string{}
	lines := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return table
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			t.ErrorAt(t.Raw("file"), t.Path+".file", "%s: %v", file, csvProblem(err, ""))
			return nil
		}
		k := rec[ki]
		if prev, dup := lines[k]; dup {
			t.ErrorAt(t.Raw("file"), t.Path+".file", "%s line %d: key %q is already given on line %d", file, line, k, prev)
			return nil
		}
		lines[k], table[k] = line, rec[vi]
	}
}

// column finds the column named name (the key or value setting) in header, or takes the
// column at def when the setting is not given. It reports -1 when there is none.
func column(t *Node, header []string, setting, name string, def int) int {
	if name == "" {
		if def >= len(header) {
			t.ErrorAt(t.Raw("file"), t.Path+".file", "the file has %d column(s): a table needs a key and a value column", len(header))
			return -1
		}
		return def
	}
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.ErrorAt(t.Raw(setting), t.Path+"."+setting, "no column %q in the file's header row (columns: %s)", name, strings.Join(header, ", "))
	return -1
}

func csvProblem(err error, onEOF string) string {
	var pe *csv.ParseError
	switch {
	case err == io.EOF && onEOF != "":
		return "the file is empty: " + onEOF
	case errors.As(err, &pe):
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}
