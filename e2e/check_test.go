package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runCheck runs `junction check -config file` and returns its exit code and output.
func runCheck(t *testing.T, file string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(junctionBin, "check", "-config", file)
	cmd.Dir = filepath.Dir(file)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("junction check: %v", err)
	}
	return code, out.String(), errb.String()
}

// brokenRoutes has five mistakes, each on a line marked "# MISTAKE <name>".
const brokenRoutes = `admin:
  listen: 127.0.0.1:18090
store:
  path: data/junction.db
channels:
  - name: ed-adt
    colour: blue                      # MISTAKE unknown-key
    source:
      type: ingest
      listen: 127.0.0.1:18000
      domain: emergency-care
      data_types: [Hl7v2]
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"'     # MISTAKE filter
    destinations:
      - name: archive
        type: file
        dir: out/ed-adt

  - name: ed-bad-listen
    source:
      type: ingest
      listen: localhost-8001          # MISTAKE listen
      domain: urgent-care

  - name: ed-ftp
    source:
      type: ingest
      listen: 127.0.0.1:18000
      domain: maternity
    destinations:
      - name: upload
        type: ftp                     # MISTAKE destination-type
        dir: out/ftp

  - name: ed-adt-again
    source:
      type: ingest
      listen: 127.0.0.1:18000
      domain: emergency-care          # MISTAKE same-domain
      data_types: [Hl7v2]
`

// Story 9: `junction check` reports every mistake in routes.yaml at once, one line each,
// at the right line; a good file passes.
func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(file, []byte(brokenRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{} // line → mistake
	var order []int
	for i, l := range strings.Split(brokenRoutes, "\n") {
		if k := strings.Index(l, "# MISTAKE "); k >= 0 {
			want[i+1] = strings.TrimSpace(l[k+len("# MISTAKE "):])
			order = append(order, i+1)
		}
	}

	code, stdout, stderr := runCheck(t, file)
	if code == 0 {
		t.Errorf("junction check exited 0 on a broken file; stdout %q", stdout)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Errorf("junction check printed %d lines, want one per mistake (%d):\n%s", len(lines), len(want), stderr)
	}
	seen := map[int]string{}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, file+":")
		if !ok {
			t.Errorf("line %q does not start with %s:", l, file)
			continue
		}
		num, _, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Errorf("line %q does not start with %s:<line>:", l, file)
			continue
		}
		if _, dup := seen[n]; dup {
			t.Errorf("two problems reported at line %d:\n%s\n%s", n, seen[n], l)
		}
		seen[n] = l
	}
	for _, n := range order {
		if seen[n] == "" {
			t.Errorf("mistake %q at line %d is not reported at that line; got:\n%s", want[n], n, stderr)
		}
	}
	for n, l := range seen {
		if want[n] == "" {
			t.Errorf("reported at line %d, where there is no mistake: %s", n, l)
		}
	}
	// Each report says what is wrong.
	mentions := map[string]string{
		"unknown-key":      "colour",
		"filter":           "filter",
		"listen":           "localhost-8001",
		"destination-type": "ftp",
		"same-domain":      "emergency-care",
	}
	for n, name := range want {
		if l := seen[n]; l != "" && !strings.Contains(l, mentions[name]) {
			t.Errorf("report for %s at line %d does not mention %q: %s", name, n, mentions[name], l)
		}
	}

	// More mistakes, one file each: each must be reported once, at its line.
	more := []struct{ name, routes, marker string }{
		{"admin and a source on the same address", `admin:
  listen: 127.0.0.1:18000
store:
  path: data/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:18000         # the admin listener has this address
      domain: emergency-care
`, "127.0.0.1:18000"}, // either line will do
		{"unknown source type", `admin:
  listen: 127.0.0.1:18090
store:
  path: data/junction.db
channels:
  - name: ed-adt
    source:
      type: dicom                     # no such source type
      listen: 127.0.0.1:18000
      domain: emergency-care
`, "type: dicom"},
		{"folded filter", `admin:
  listen: 127.0.0.1:18090
store:
  path: data/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:18000
      domain: emergency-care
    filter:
      - >
        get("MSH-9.1") == "ADT" &&
        get("PID-5.1") != "" &&
        get("PID-8") ==
`, `get("PID-8") ==`},
	}
	for _, c := range more {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "routes.yaml")
			if err := os.WriteFile(file, []byte(c.routes), 0o644); err != nil {
				t.Fatal(err)
			}
			var at []string // file:line: prefixes that are right
			for i, l := range strings.Split(c.routes, "\n") {
				if strings.Contains(l, c.marker) {
					at = append(at, file+":"+strconv.Itoa(i+1)+":")
				}
			}
			code, stdout, stderr := runCheck(t, file)
			if code == 0 {
				t.Errorf("junction check exited 0; stdout %q", stdout)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			ok := false
			for _, p := range at {
				if len(lines) == 1 && strings.HasPrefix(lines[0], p) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("want exactly one line starting with one of %v, got:\n%s", at, stderr)
			}
		})
	}

	t.Run("good file", func(t *testing.T) {
		code, stdout, stderr := runCheck(t, filepath.Join(repoRoot, "routes.yaml"))
		if code != 0 {
			t.Errorf("junction check on the bundled routes.yaml: exit %d, stderr %q", code, stderr)
		}
		if !strings.Contains(stdout, "OK") {
			t.Errorf("stdout %q does not say OK", stdout)
		}
		// Its listeners are open on purpose (auth: none): each is a warning at its line,
		// the FHIR store's naming patient data.
		for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
			if !strings.HasPrefix(line, "warning: ") || !strings.Contains(line, "routes.yaml:") || !strings.Contains(line, "auth: none") {
				t.Errorf("stderr line %q: want only warnings about auth: none, with their lines", line)
			}
		}
		if !strings.Contains(stderr, "may read this FHIR store (patient data)") {
			t.Errorf("stderr %q: want a warning that the FHIR store serves patient data without auth", stderr)
		}
	})
}
