package transforms

import (
	"errors"
	"strings"
	"testing"
)

// compileErr compiles src for a channel taking types (nil: a destination's steps) and
// returns its CompileError, nil when it compiles.
func compileErr(t *testing.T, src string, types []string) *CompileError {
	t.Helper()
	_, err := Compile(Script{Source: src, File: "routes.yaml", Line: 7, Path: "channels[0].transform[0]"}, Transform, types)
	if err == nil {
		return nil
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile(%q): %v, want a *CompileError", src, err)
	}
	return ce
}

var (
	hl7Only  = []string{HL7v2}
	hl7FHIR  = []string{HL7v2, FHIR}
	fhirCSV  = []string{FHIR, CSV}
	anyTypes []string // a destination's steps
)

func TestAFieldBeyondEveryVersionOfTheSegmentIsALoadError(t *testing.T) {
	ce := compileErr(t, `get("PID-51") != ""`, hl7Only)
	if ce == nil {
		t.Fatal("get(\"PID-51\") compiled")
	}
	for _, want := range []string{"PID-51", "no field 51 in PID", "at most 40 fields", "HL7 v2.7", "30 in v2.3"} {
		if !strings.Contains(ce.Msg, want) {
			t.Errorf("error %q does not contain %q", ce.Msg, want)
		}
	}
	if ce.Line != 7 {
		t.Errorf("line = %d, want 7", ce.Line)
	}
}

func TestFieldsSomeVersionDefinesAreAccepted(t *testing.T) {
	for _, src := range []string{`get("PID-40")`, `get("PID-39.1")`, `set("MSH-25", "x")`, `get("PV1-54")`, `get("OBX[2]-5.1")`} {
		if ce := compileErr(t, src, hl7Only); ce != nil {
			t.Errorf("%s: %s", src, ce.Msg)
		}
	}
}

func TestSegmentsTheStandardDoesNotDefineAreNotChecked(t *testing.T) {
	for _, src := range []string{`get("ZPD-99")`, `set("ZXX-120.3", "x")`} {
		if ce := compileErr(t, src, hl7Only); ce != nil {
			t.Errorf("%s: %s", src, ce.Msg)
		}
	}
}

func TestHL7PathsAreCheckedInChannelsTakingSeveralDataTypes(t *testing.T) {
	for _, src := range []string{
		`dataType == "Hl7v2" ? get("PID-51") : get("name[0].family")`,
		`set("PID-x", "1")`,
	} {
		for _, types := range [][]string{hl7FHIR, anyTypes} {
			if ce := compileErr(t, src, types); ce == nil {
				t.Errorf("%s compiled for a channel taking %v", src, types)
			}
		}
	}
}

func TestFHIRPathsInChannelsTakingSeveralDataTypesAreNotTakenForHL7Paths(t *testing.T) {
	for _, src := range []string{`get("name[0].family")`, `set("Patient.birthDate", "1980-01-01")`, `get("identifier[1].value")`, `set("name", [{"family": "X"}])`} {
		for _, types := range [][]string{hl7FHIR, anyTypes, fhirCSV} {
			if ce := compileErr(t, src, types); ce != nil {
				t.Errorf("%s for a channel taking %v: %s", src, types, ce.Msg)
			}
		}
	}
}

func TestChannelsTakingNoHL7v2HaveNoPathChecked(t *testing.T) {
	if ce := compileErr(t, `get("PID-51")`, fhirCSV); ce != nil {
		t.Errorf("FHIR/CSV channel: %s", ce.Msg)
	}
}

func TestSettingAMapOrAListIntoAnHL7FieldIsALoadError(t *testing.T) {
	cases := map[string]string{
		`set("PID-5", {"a": 1})`:            "a map",
		`set("PID-5", ["a", "b"])`:          "a list",
		`set("PID-5.1", split("a,b", ","))`: "a list",
	}
	for src, what := range cases {
		for _, types := range [][]string{hl7Only, hl7FHIR, anyTypes} {
			ce := compileErr(t, src, types)
			if ce == nil {
				t.Errorf("%s compiled for a channel taking %v", src, types)
				continue
			}
			if !strings.Contains(ce.Msg, what) || !strings.Contains(ce.Msg, "an HL7v2 field takes text") {
				t.Errorf("%s: %q does not say %q", src, ce.Msg, what)
			}
		}
	}
}

func TestValuesAFieldTakesOrOfUnknownTypeAreSet(t *testing.T) {
	for _, src := range []string{`set("PID-5", "x")`, `set("PID-5", 3)`, `set("PID-7", now())`, `set("PID-8", true)`, `set("PID-5", get("PID-6"))`, `set("PID-5", join(["a", "b"], "~"))`} {
		if ce := compileErr(t, src, hl7Only); ce != nil {
			t.Errorf("%s: %s", src, ce.Msg)
		}
	}
}

func TestAMapSetOnAnyPathOfAnHL7OnlyChannelIsALoadError(t *testing.T) {
	if ce := compileErr(t, `let p = "PID-5"; set(p, {"a": 1})`, hl7Only); ce == nil || !strings.Contains(ce.Msg, "a map") {
		t.Errorf("got %v", ce)
	}
}
