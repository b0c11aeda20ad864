package main

import (
	"strings"
	"testing"
)

// junction fhirpath prints the result collection as JSON, and errors on stderr with a
// non-zero exit.
func TestFHIRPathCommandPrintsResultsAsJSON(t *testing.T) {
	patient := "../../fhir/testdata/fhirpath/patient.json"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-resource", patient, "name.given.first()"}, `["Karen"]`},
		{[]string{"-resource", patient, "name[1]"}, `[{"use":"nickname","given":["Kaja"]}]`},
		{[]string{"-resource", patient, "birthDate | active | multipleBirth"}, `["1957-01-15",true,2]`},
		{[]string{"@2019-01-31 + 1 month"}, `["2019-02-28"]`},
		{[]string{"1.5 'mg' * 2"}, `[{"value":3,"unit":"mg"}]`},
		{[]string{"-types", "1 / 4"}, `[{"type":"decimal","value":0.25}]`},
		{[]string{"-package", "../../fhir/testdata/profiles", "-resource", patient, "gender = 'male'"}, `[false]`},
		{[]string{"{}"}, `[]`},
		{[]string{"-resource", "../../fhir/testdata/fhirpath/patient.xml", "name.given.first() | birthDate.extension.value"}, `["Karen","1957-01-15T08:30:00+01:00"]`},
		{[]string{"-resource", "../../fhir/testdata/fhirpath/patient.xml", "deceasedBoolean | multipleBirthInteger"}, `[false,2]`},
	}
	for _, c := range cases {
		code, out, errOut := capture(t, func() int { return fhirpathCmd(c.args) })
		if code != 0 || strings.TrimSpace(out) != c.want {
			t.Errorf("%v: exit %d, printed %s (stderr %s), want %s", c.args, code, out, errOut, c.want)
		}
	}
	for _, args := range [][]string{{"name.soundex()"}, {"(1 | 2).single()"}, {"-resource", "missing.json", "1"}, {}} {
		code, out, errOut := capture(t, func() int { return fhirpathCmd(args) })
		if code == 0 || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error", args, code, out, errOut)
		}
	}
	_, _, errOut := capture(t, func() int { return fhirpathCmd([]string{"name.soundex()"}) })
	if !strings.Contains(errOut, "soundex") {
		t.Errorf("unknown function error does not name it: %s", errOut)
	}
}
