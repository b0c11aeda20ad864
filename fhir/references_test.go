package fhir

import (
	"strings"
	"testing"
)

// Aggregation modes (the HL7 validator's Reference_REF_Aggregation and
// Reference_REF_NotFound_Bundle), on the KL Gateway profiles, whose references want their
// targets bundled.

const encounterExample = "testdata/kl-examples/1.2.0/Encounter-NaesteOpfoelgningsdato.json"

func TestALoneResourcesBundledReferenceIsRemote(t *testing.T) {
	oo := validate(t, validator120(t), readFile(t, encounterExample))
	is := findIssue(oo, SeverityError, "Reference is remote which isn't supported by the specified aggregation mode(s) for the reference (bundled)")
	if is == nil || is.Location[0] != "Encounter.subject" || is.Code != CodeStructure {
		t.Fatalf("aggregation error: %+v\n%s", is, dump(oo))
	}
	if n := len(errorsOf(oo)); n != 1 {
		t.Errorf("%d errors, want the one:\n%s", n, dump(oo))
	}
}

func TestAContainedTargetIsNotBundled(t *testing.T) {
	s := strings.Replace(string(readFile(t, encounterExample)), `"reference": "Patient/TestPerson"`, `"reference": "#p"`, 1)
	s = strings.Replace(s, `"status": "planned",`, `"contained": [ { "resourceType": "Patient", "id": "p" } ],
  "status": "planned",`, 1)
	oo := validate(t, validator120(t), []byte(s))
	if findIssue(oo, SeverityError, "Reference is contained which isn't supported by the specified aggregation mode(s) for the reference (bundled)") == nil {
		t.Fatalf("no aggregation error for a contained target:\n%s", dump(oo))
	}
}

func TestABundledReferenceToNoEntryIsNotFound(t *testing.T) {
	s := strings.Replace(seedText(t), `"reference" : "Encounter/1fb0990d-aac7-4661-b976-874e051c5ae6"`, `"reference" : "Encounter/nowhere"`, 1)
	oo := validate(t, validator104(t), []byte(s), reportURL)
	is := findIssue(oo, SeverityError, "Bundled or contained reference not found within the bundle/resource Encounter/nowhere")
	if is == nil || !strings.HasPrefix(is.Location[0], "Bundle.entry[2].resource.ofType(Condition).extension[0].value") {
		t.Fatalf("not-found error: %+v\n%s", is, dump(oo))
	}
	if findIssue(oo, SeverityError, "aggregation mode") != nil {
		t.Errorf("an unresolved reference is not also held against the modes:\n%s", dump(oo))
	}
}
