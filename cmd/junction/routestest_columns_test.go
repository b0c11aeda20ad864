package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCaseExpectationsCheckTheChannelsColumns(t *testing.T) {
	dir := testProject(t, map[string]string{"tests/adt_test.yaml": `channel: adt
cases:
  - name: takes the MRN and the upper-cased name
    input: { file: samples/adt.hl7 }
    expect:
      columns: { mrn: "0000000000", patient: "FERNÁNDEZ, José", event: "" }
  - name: expects another MRN
    input: { file: samples/adt.hl7 }
    expect:
      columns: { mrn: "123" }
`})
	routes := strings.Replace(testRoutes, "    destinations:\n", `    columns:
      mrn: 'get("PID-3.1")'
      patient: 'get("PID-5.1") + ", " + get("PID-5.2")'
      event: 'get("EVN-1")'
    destinations:
`, 1)
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runTests()
	want := `ok  adt: takes the MRN and the upper-cased name
FAIL tests/adt_test.yaml:10: adt: expects another MRN: column mrn: expected "123", got "0000000000"
FAIL: 1 of 2 cases failed (1 files)
`
	if code != 1 || errOut != "" || out != want {
		t.Errorf("exit %d, stderr %q, output:\n%s\nwant exit 1 and:\n%s", code, errOut, out, want)
	}
}
