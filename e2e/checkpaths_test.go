package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scriptMistakes has a mistake on each line marked "# MISTAKE <what the report says>", and
// paths that must not be reported in a FHIR and CSV channel.
const scriptMistakes = `admin:
  listen: 127.0.0.1:18091
store:
  path: data/junction.db
channels:
  - name: ed-adt
    source: { type: ingest, listen: 127.0.0.1:18001, domain: emergency-care, data_types: [Hl7v2], auth: none }
    filter:
      - 'get("PID-51") != ""'                                   # MISTAKE PID has at most 40 fields
    transform:
      - 'set("PID-5", {"family": "X"})'                         # MISTAKE given a map
      - 'set("ZPD-99", "site segments are not checked")'
    destinations: [{ name: archive, type: file, dir: out/a }]
  - name: ed-mixed
    source: { type: ingest, listen: 127.0.0.1:18001, domain: mixed-care, data_types: [Hl7v2, FHIR], auth: none }
    transform:
      - 'dataType == "Hl7v2" ? set("PV1-60", "x") : true'       # MISTAKE PV1 has at most 54 fields
      - 'dataType == "FHIR" ? set("name[0].family", "X") : true'
      - 'dataType == "Hl7v2" ? set("PID-3", ["a", "b"]) : true' # MISTAKE given a list
    destinations: [{ name: archive, type: file, dir: out/b }]
  - name: ed-fhir
    source: { type: ingest, listen: 127.0.0.1:18001, domain: other-care, data_types: [FHIR, CSV], auth: none }
    transform:
      - 'set("name", [{"family": "X"}])'
      - 'set("identifier[0].value", get("id"))'
    destinations: [{ name: archive, type: file, dir: out/c }]
`

// `junction check` reports impossible HL7 field numbers and values set() cannot write into
// a field, in HL7v2 channels and in channels taking HL7v2 among other data types, each at
// its line; FHIR paths and site segments are not reported.
func TestCheckReportsImpossibleHL7PathsAndValuesAtTheirLines(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(scriptMistakes), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for i, l := range strings.Split(scriptMistakes, "\n") {
		if k := strings.Index(l, "# MISTAKE "); k >= 0 {
			want[i+1] = strings.TrimSpace(l[k+len("# MISTAKE "):])
		}
	}
	code, _, stderr := runCheck(t, file)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var errLines []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "warning:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errLines), len(want), stderr)
	}
	for n, what := range want {
		prefix := file + ":" + strconv.Itoa(n) + ":"
		found := false
		for _, l := range errLines {
			found = found || strings.HasPrefix(l, prefix) && strings.Contains(l, what)
		}
		if !found {
			t.Errorf("no error at line %d saying %q:\n%s", n, what, stderr)
		}
	}
}

// A key indented one space too far is reported at its own line, not where yaml.v3 would.
func TestCheckReportsAnIndentationMistakeAtTheWrongLine(t *testing.T) {
	t.Parallel()
	text := strings.Replace(scriptMistakes, "    transform:\n      - 'set(\"PID-5\"", "     transform:\n      - 'set(\"PID-5\"", 1)
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCheck(t, file)
	if want := file + ":10: YAML syntax: wrong indentation"; code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr %q; want it to start with %q", code, stderr, want)
	}
}
