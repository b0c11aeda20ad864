package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const testRoutes = `store: { path: data/junction.db }
channels:
  - name: adt
    filtered_ack: AR
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed, data_types: [Hl7v2] }
    filter:
      - 'get("MSH-9.1") == "ADT"'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out }
      - { name: downstream, type: http, url: "http://127.0.0.1:9/in" }
`

const testADT = "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|8457239|P|2.4\r" +
	"PID|1||0000000000^^^NHS^NH||Fernández^José||19800101|M\r"

// A file whose every case fails, one expectation of each kind.
const failingTests = `channel: adt
cases:
  - name: expects the name unchanged
    input: { file: samples/adt.hl7 }
    expect:
      hl7: { PID-5.1: Fernández }
      contains: ["Fernández^José"]
      destinations: [archive]
  - name: expects a filter
    input: { file: samples/adt.hl7 }
    expect: { filtered: true, ack: AR }
  - name: expects an error
    input: |
      MSH|^~\&|EPR|R0D|DEX|QVV|20240213144932||SIU^S12|2|P|2.4
    expect:
      error: MSH-10
      fhir: { Patient.id: "1" }
`

const failingOutput = `FAIL tests/adt_test.yaml:6: adt: expects the name unchanged: hl7 PID-5.1: expected "Fernández", got "FERNÁNDEZ"
FAIL tests/adt_test.yaml:7: adt: expects the name unchanged: contains: expected the body to contain "Fernández^José", got "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|8457239|P|2.4\\rPID|1||0000000000^^^NHS^NH||FERNÁNDEZ^José||19800101|M\\r"
FAIL tests/adt_test.yaml:8: adt: expects the name unchanged: destinations: expected ["archive"], got ["archive", "downstream"]
FAIL tests/adt_test.yaml:11: adt: expects a filter: filtered: expected true, got false
FAIL tests/adt_test.yaml:11: adt: expects a filter: ack: expected AR, got AA
FAIL tests/adt_test.yaml:16: adt: expects an error: error: expected an error containing "MSH-10", got none (FILTERED)
FAIL tests/adt_test.yaml:17: adt: expects an error: fhir Patient.id: expected "1", got no transformed body (FILTERED)
FAIL: 3 of 3 cases failed (1 files)
`

// testProject writes a routes.yaml, a sample and the given test files into a temporary
// folder, which it makes the working directory.
func testProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["routes.yaml"] = testRoutes
	files["tests/samples/adt.hl7"] = testADT
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}

func runTests(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runRouteTests(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTheBundledChannelTestsPass(t *testing.T) {
	code, out, errOut := runTests("-config", "../../routes.yaml", "../../tests")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, ch := range []string{"ed-adt", "ed-fhir-csv", "lab-mllp", "care-gateway", "care-gateway-v1-2"} {
		if n := strings.Count(out, "ok  "+ch+": "); n < 3 {
			t.Errorf("channel %s has %d passing cases, want at least 3", ch, n)
		}
	}
}

func TestPassingCasesPrintOneLineEachAndTouchNothing(t *testing.T) {
	dir := testProject(t, map[string]string{"tests/adt_test.yaml": `channel: adt
cases:
  - name: upper-cases the family name
    input: { file: samples/adt.hl7 }
    headers: { source-domain: ed, organisation-code: r0d }
    expect:
      filtered: false
      hl7: { PID-5.1: FERNÁNDEZ }
      contains: ["FERNÁNDEZ^José"]
      destinations: [downstream, archive]
      ack: AA
  - name: answers AR to what it filters
    input: { text: "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||SIU^S12|2|P|2.4" }
    expect: { filtered: true, destinations: [], ack: AR }
`})
	code, out, errOut := runTests() // routes.yaml and tests/ by default
	want := "ok  adt: upper-cases the family name\nok  adt: answers AR to what it filters\nok: 2 cases passed (1 files)\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	var made []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error {
		made = append(made, strings.TrimPrefix(p, dir))
		return nil
	})
	if want := []string{"", "/routes.yaml", "/tests", "/tests/adt_test.yaml", "/tests/samples", "/tests/samples/adt.hl7"}; !slices.Equal(made, want) {
		t.Errorf("files after the run: %v, want only %v (no store, no output)", made, want)
	}
}

func TestFailingCasesAreNamedWithFileLineExpectedAndGot(t *testing.T) {
	testProject(t, map[string]string{"tests/adt_test.yaml": failingTests})
	code, out, errOut := runTests("-config", "routes.yaml", "tests/adt_test.yaml")
	if code != 1 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 1 and nothing", code, errOut)
	}
	if out != failingOutput {
		t.Errorf("output:\n%s\nwant:\n%s", out, failingOutput)
	}
}

func TestMistakesInATestFileAreReportedWithTheirLineAndExit2(t *testing.T) {
	testProject(t, map[string]string{"tests/bad_test.yaml": `channel: adt
cases:
  - name: a typo
    input: { file: samples/adt.hl7 }
    expcet: { filtered: false }
  - name: a missing file and a wrong ack
    input: { file: samples/missing.hl7 }
    expect: { ack: OK, hl7: [PID-5.1] }
`, "tests/other_test.yaml": "channel: nope\ncases: []\n"})
	code, out, errOut := runTests("tests")
	want := `tests/bad_test.yaml:5: case: unknown key "expcet" (expected one of: name, input, headers, expect)
tests/bad_test.yaml:3: case: missing required key "expect"
tests/bad_test.yaml:7: input.file: open tests/samples/missing.hl7: no such file or directory
tests/bad_test.yaml:8: expect.ack: expected AA, AE or AR, got "OK"
tests/bad_test.yaml:8: expect.hl7: expected a mapping (key: value lines)
tests/other_test.yaml:1: channel "nope" is not in routes.yaml
tests/other_test.yaml:2: cases: expected a list of at least one case
`
	if code != 2 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", code, out, errOut, want)
	}
}

func TestAFolderWithoutTestFilesIsAUsageError(t *testing.T) {
	testProject(t, map[string]string{})
	code, _, errOut := runTests("-config", "routes.yaml", "tests/samples")
	if code != 2 || !strings.Contains(errOut, "no *_test.yaml files") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestAWrongExpectationOfABundledChannelFails(t *testing.T) {
	samples, err := filepath.Abs("../../tests/samples")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ed-adt_test.yaml")
	text := `channel: ed-adt
cases:
  - name: keeps the family name as sent
    input: { file: ` + samples + `/adt_a01.hl7 }
    headers: { source-domain: emergency-care, organisation-code: r0d, data-type: Hl7v2 }
    expect:
      hl7: { PID-5.1: Fernández }
      fhir: { Bundle.entry.resource.ofType(Patient).name.family: Fernández }
      destinations: [archive]
  - name: takes SIU messages
    input: { file: ` + samples + `/siu_s12.hl7 }
    expect: { filtered: false, ack: AA }
`
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runTests("-config", "../../routes.yaml", file)
	want := `FAIL F:7: ed-adt: keeps the family name as sent: hl7 PID-5.1: expected "Fernández", got "FERNÁNDEZ"
FAIL F:8: ed-adt: keeps the family name as sent: fhir Bundle.entry.resource.ofType(Patient).name.family: expected "Fernández", got "FERNÁNDEZ"
FAIL F:9: ed-adt: keeps the family name as sent: destinations: expected ["archive"], got ["fhir-store", "archive"]
FAIL F:12: ed-adt: takes SIU messages: filtered: expected false, got true (FILTERED: filtered by ../../routes.yaml:N (channels[0].filter[0]): get("MSH-9.1") in ["ADT", "ORU", "VXU"])
FAIL: 2 of 2 cases failed (1 files)
`
	// routes.yaml's line numbers move as it is edited.
	got := regexp.MustCompile(`routes\.yaml:\d+`).ReplaceAllString(strings.ReplaceAll(out, file, "F"), "routes.yaml:N")
	if code != 1 || errOut != "" || got != want {
		t.Errorf("exit %d, stderr %q, output:\n%s\nwant exit 1 and:\n%s", code, errOut, got, want)
	}
}
