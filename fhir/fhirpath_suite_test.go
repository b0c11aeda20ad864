package fhir

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The FHIRPath suite in testdata/fhirpath/tests.xml has the shape of the official FHIRPath
// test suite (tests-fhir-r4.xml), so the official one can be run the same way.

type fpSuite struct {
	Groups []struct {
		Name  string `xml:"name,attr"`
		Tests []struct {
			Name       string `xml:"name,attr"`
			Mode       string `xml:"mode,attr"`
			Predicate  string `xml:"predicate,attr"`
			InputFile  string `xml:"inputfile,attr"`
			Expression struct {
				Text    string `xml:",chardata"`
				Invalid string `xml:"invalid,attr"`
			} `xml:"expression"`
			Outputs []struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"output"`
		} `xml:"test"`
	} `xml:"group"`
}

// fpKnownFailures are suite cases Junction does not pass yet, with the reason.
var fpKnownFailures = map[string]string{}

func TestFHIRPathSuitePassesEveryCase(t *testing.T) {
	passed, total, failures := runFHIRPathSuite(t, "testdata/fhirpath/tests.xml")
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("FHIRPath suite: %d of %d cases pass", passed, total)
}

// With FHIRPATH_SUITE=/path/to/tests-fhir-r4.xml, the official suite (or any file of its
// shape) runs too, with each inputfile read from beside it or from input/ there, as XML or
// JSON (patient-example.xml, else patient-example.json). Its failures are listed, not failed
// on.
func TestFHIRPathExternalSuiteRunsWhenGiven(t *testing.T) {
	file := os.Getenv("FHIRPATH_SUITE")
	if file == "" {
		t.Skip("FHIRPATH_SUITE is not set")
	}
	passed, total, failures := runFHIRPathSuite(t, file)
	for _, f := range failures {
		t.Log(f)
	}
	t.Logf("%s: %d of %d cases pass", file, passed, total)
}

// runFHIRPathSuite runs a suite file: (cases passing, cases, failures not known).
func runFHIRPathSuite(t *testing.T, file string) (int, int, []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var suite fpSuite
	if err := xml.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	v := testValidator(t)
	inputs := map[string][]byte{}
	total, passed := 0, 0
	var failures []string
	for _, g := range suite.Groups {
		for _, tc := range g.Tests {
			total++
			in, ok := inputs[tc.InputFile]
			if !ok && tc.InputFile != "" {
				in = fpSuiteInput(filepath.Dir(file), tc.InputFile)
				inputs[tc.InputFile] = in
			}
			var want []string
			for _, o := range tc.Outputs {
				if o.Type == "" {
					o.Type = "*" // any type
				}
				want = append(want, o.Type+" "+o.Text)
			}
			// As the HL7 engine's runner: typed choice names only in mode lenient/polymorphics.
			res, err := v.evaluateFHIRPath(in, tc.Expression.Text, tc.Mode != "lenient/polymorphics")
			if tc.Predicate == "true" && err == nil { // the result as a boolean: does it exist
				res = []FHIRPathResult{{Type: "boolean", Value: []byte(strconv.FormatBool(len(res) > 0))}}
			}
			problem := fpCheckCase(tc.Expression.Invalid, want, res, err)
			reason, known := fpKnownFailures[tc.Name]
			switch {
			case problem == "" && known:
				failures = append(failures, g.Name+"/"+tc.Name+" passes now: remove it from fpKnownFailures ("+reason+")")
			case problem == "":
				passed++
			case !known:
				failures = append(failures, g.Name+"/"+tc.Name+": "+problem+"\n\texpression: "+tc.Expression.Text)
			}
		}
	}
	return passed, total, failures
}

// fpSuiteInput reads an input file from dir, or from dir/input; an XML file that is not
// there is looked for as JSON (patient-example.xml → patient-example.json).
func fpSuiteInput(dir, name string) []byte {
	for _, d := range []string{dir, filepath.Join(dir, "input")} {
		if in, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			return in
		}
		if j, ok := strings.CutSuffix(name, ".xml"); ok {
			if in, err := os.ReadFile(filepath.Join(d, j+".json")); err == nil {
				return in
			}
		}
	}
	return nil
}

// fpCheckCase compares a result with the expectation: "" when it matches. A syntax error
// must come from parsing; a semantic one (which the HL7 engine finds checking the
// expression against the input's types before evaluating it) may come from evaluation, as
// Junction has no separate checking pass.
func fpCheckCase(invalid string, want []string, res []FHIRPathResult, err error) string {
	switch {
	case invalid != "" && err == nil:
		return "expected a " + invalid + " error, got " + strings.Join(fpSuiteTexts(res), "; ")
	case invalid == "syntax":
		if !strings.HasPrefix(err.Error(), "syntax:") {
			return "expected a syntax error when parsing, got " + err.Error()
		}
		return ""
	case invalid != "":
		return ""
	case err != nil:
		return "error: " + err.Error()
	}
	got := fpSuiteTexts(res)
	if len(got) != len(want) {
		return "got [" + strings.Join(got, "; ") + "], want [" + strings.Join(want, "; ") + "]"
	}
	for i := range got {
		if w, ok := strings.CutPrefix(want[i], "* "); ok {
			if _, g, _ := strings.Cut(got[i], " "); g == w {
				continue
			}
		}
		if got[i] != want[i] {
			return "got [" + strings.Join(got, "; ") + "], want [" + strings.Join(want, "; ") + "]"
		}
	}
	return ""
}

// fpSuiteTexts writes results as the suite's outputs: type, then the value as FHIRPath
// writes it (@ before dates, 4 'mg' for quantities, JSON for elements).
func fpSuiteTexts(res []FHIRPathResult) []string {
	out := make([]string, len(res))
	for i, r := range res {
		var s string
		var q struct {
			Value json.Number
			Unit  string
		}
		switch {
		case json.Unmarshal(r.Value, &s) == nil:
			switch r.Type {
			case "date", "dateTime", "instant":
				s = "@" + s
			case "time":
				s = "@T" + s
			}
		case r.Type == "Quantity" && json.Unmarshal(r.Value, &q) == nil && q.Unit != "":
			s = q.Value.String() + " '" + q.Unit + "'"
			if _, ok := calendarUnits[q.Unit]; ok {
				s = q.Value.String() + " " + q.Unit
			}
		default:
			s = string(r.Value)
		}
		out[i] = r.Type + " " + s
	}
	return out
}
