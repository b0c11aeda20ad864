package hl7tofhir

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func convertFile(t *testing.T, name string, o Options) *Result {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(raw, o)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// resources returns the Bundle's resources of type rt.
func resources(t *testing.T, res *Result, rt string) []map[string]any {
	t.Helper()
	var b struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.JSON(), &b); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == rt {
			e.Resource["fullUrl"] = e.FullURL
			out = append(out, e.Resource)
		}
	}
	return out
}

func TestNullsAndIgnored(t *testing.T) {
	res := convertFile(t, "adt_a08_update_nulls.hl7", goldenOptions(t))
	if want := []string{"PID-8", "PID-11", "PID-13[1]", "PV1-8"}; !reflect.DeepEqual(res.Nulls, want) {
		t.Errorf("Nulls = %q, want %q", res.Nulls, want)
	}
	p := resources(t, res, "Patient")[0]
	for _, k := range []string{"gender", "address"} {
		if p[k] != nil {
			t.Errorf("Patient.%s = %v, want it omitted for the v2 null", k, p[k])
		}
	}
	if res.MessageType != "ADT^A08" || res.ControlID != "A08-2002" || res.Version != "2.5" || res.PatientID != "9434765919" {
		t.Errorf("Result header = %q %q %q %q", res.MessageType, res.ControlID, res.Version, res.PatientID)
	}

	res = convertFile(t, "adt_a01_admit_nhs.hl7", goldenOptions(t))
	if want := []string{"ZPI (segment 15)"}; !reflect.DeepEqual(res.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", res.Ignored, want)
	}
	res = convertFile(t, "oru_r01_lab.hl7", goldenOptions(t))
	if want := []string{"ZLB (segment 17)"}; !reflect.DeepEqual(res.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", res.Ignored, want)
	}
}

func TestPatientIDOption(t *testing.T) {
	o := goldenOptions(t)
	o.PatientID = func(ids []Identifier) string {
		for _, id := range ids {
			if id.Type == "MR" {
				return "mrn-" + id.Value
			}
		}
		return ""
	}
	res := convertFile(t, "adt_a01_admit_nhs.hl7", o)
	if res.PatientID != "mrn-K100234" {
		t.Errorf("PatientID = %q, want mrn-K100234", res.PatientID)
	}
	// No MR identifier: the rule defers to the default (the NHS number).
	res = convertFile(t, "adt_a11_cancel_admit.hl7", o)
	if res.PatientID != "9434765919" {
		t.Errorf("PatientID = %q, want the NHS number", res.PatientID)
	}
}

// Without an NHS number the Patient id derives from the first identifier,
// so it is the same in every message about that patient.
func TestDerivedPatientIDIsStable(t *testing.T) {
	a := convertFile(t, "adt_a04_register_v23.hl7", Options{})
	b, err := Convert(msg("MSH|^~\\&|CLINIC|YORKHOSP|JUNCTION|YORKHOSP|202405150830||ADT^A08|X-2|P|2.3",
		"PID|1||Y778899^^^YORKHOSP^MR||WILLIAMS^Gareth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.PatientID != b.PatientID || len(a.PatientID) != 36 {
		t.Errorf("Patient ids %q and %q, want one UUID", a.PatientID, b.PatientID)
	}
}

// One visit number, one Encounter, whatever the event.
func TestEncounterKeyedByVisit(t *testing.T) {
	var ids []any
	for _, f := range []string{"adt_a01_admit_nhs.hl7", "adt_a02_transfer_mllp.hl7", "adt_a08_update_nulls.hl7", "adt_a11_cancel_admit.hl7"} {
		ids = append(ids, resources(t, convertFile(t, f, goldenOptions(t)), "Encounter")[0]["id"])
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("Encounter ids %v, want one id for visit V000777", ids)
		}
	}
}

func TestBaseURL(t *testing.T) {
	o := goldenOptions(t)
	o.BaseURL = "https://fhir.example.nhs.uk/R4/"
	res := convertFile(t, "oru_r01_lab.hl7", o)
	checkFHIR(t, res.JSON())
	p := resources(t, res, "Patient")[0]
	if p["fullUrl"] != "https://fhir.example.nhs.uk/R4/Patient/4857773456" {
		t.Errorf("Patient fullUrl = %v", p["fullUrl"])
	}
}

// Options.Systems adds to the defaults, and the NHS number keeps its system.
func TestSystemsOption(t *testing.T) {
	o := Options{Systems: map[string]string{"leeds^mr": "https://leeds.example.nhs.uk/Id/mrn"}}
	p := resources(t, convertFile(t, "adt_a03_discharge.hl7", o), "Patient")[0]
	b, _ := json.Marshal(p["identifier"])
	for _, want := range []string{NHSNumberSystem, "https://leeds.example.nhs.uk/Id/mrn"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("identifiers %s lack system %s", b, want)
		}
	}
}

// The hl7 package's realistic ADT^A01 (NHS number 0000000000) converts to
// a structurally valid Bundle keyed on the NHS number.
func TestProjectSampleADT(t *testing.T) {
	raw, err := os.ReadFile("../hl7/testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkFHIR(t, res.JSON())
	if res.PatientID != "0000000000" {
		t.Errorf("PatientID = %q, want the NHS number 0000000000", res.PatientID)
	}
	if want := []string{"ZU1 (segment 13)"}; !reflect.DeepEqual(res.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", res.Ignored, want)
	}
	if n := len(resources(t, res, "AllergyIntolerance")); n != 2 {
		t.Errorf("%d AllergyIntolerance, want 2", n)
	}
}
