package hl7tofhir

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the current output (review the diff before committing)")

// goldenOptions are the site settings the golden files were made with:
// the defaults plus a trust MRN system and the UK time zone, so zone-less
// v2 times exercise BST and GMT.
func goldenOptions(t testing.TB) Options {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatalf("loading Europe/London: %v", err)
	}
	return Options{
		Systems:  map[string]string{"RX1^MR": "https://rx1.example.nhs.uk/Id/mrn"},
		TimeZone: london,
	}
}

// TestGolden converts each testdata/*.hl7 and compares the Bundle, field
// by field, with testdata/*.json.
func TestGolden(t *testing.T) {
	checkGoldens(t, "testdata", 15, checkFHIR, false)
}

// checkGoldens converts each dir/*.hl7 (at least min of them) with goldenOptions and
// compares the Bundle, field by field, with the .json beside it, after check (the
// resources' required elements and codes); noWarnings fails a conversion that warns.
// -update rewrites the .json files (review the diff before committing).
func checkGoldens(t *testing.T, dir string, min int, check func(*testing.T, []byte), noWarnings bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.hl7"))
	if len(files) < min {
		t.Fatalf("found %d golden messages in %s, expected at least %d", len(files), dir, min)
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
			for _, w := range res.Warnings {
				if noWarnings {
					t.Errorf("unexpected warning: %v", w)
				}
			}
			got := res.JSON()
			check(t, got)
			want := strings.TrimSuffix(f, ".hl7") + ".json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./hl7tofhir -run %s -update to create it)", err, strings.SplitN(t.Name(), "/", 2)[0])
			}
			if diff := jsonDiff(t, got, wantJSON); diff != "" {
				t.Errorf("%s differs from %s: %s", name, want, diff)
			}
		})
	}
}

// jsonDiff compares two JSON documents and describes the first difference
// by its JSON path, e.g. `entry[0].resource.gender: got "male", want "female"`.
func jsonDiff(t testing.TB, got, want []byte) string {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden file is not JSON: %v", err)
	}
	return diffValue("", g, w)
}

func diffValue(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want an object", orRoot(path), brief(got))
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				return fmt.Sprintf("%s: missing, want %s", p, brief(wv))
			case !wok:
				return fmt.Sprintf("%s: unexpected %s", p, brief(gv))
			}
			if d := diffValue(p, gv, wv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want an array", orRoot(path), brief(got))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: got %d elements, want %d", orRoot(path), len(g), len(w))
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: got %s, want %s", orRoot(path), brief(got), brief(want))
	}
	return ""
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// TestDeterministic: the same message converts to the same Bundle, also
// from a Converter shared by concurrent goroutines (run with -race).
func TestDeterministic(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.hl7")
	conv, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		res, err := conv.Convert(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want[f] = res.JSON()
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				res, err := conv.Convert(raw)
				if err != nil {
					t.Errorf("%s: %v", f, err)
					return
				}
				if !bytes.Equal(res.JSON(), want[f]) {
					t.Errorf("%s: a second conversion gave a different Bundle", f)
				}
			}
		}()
	}
	wg.Wait()
}
