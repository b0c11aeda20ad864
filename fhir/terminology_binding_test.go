package fhir

import (
	"strings"
	"testing"
)

// Bindings end to end: a profile (testdata/terminology) binds Observation elements to the
// hand-written value sets, and each issue's severity follows what could be known.

const termObs = "http://junction.example/fhir/StructureDefinition/term-observation"

// termObservation is a minimal Observation with extra properties spliced in after code.
func termObservation(code, extra string) []byte {
	return []byte(`{
  "resourceType": "Observation",
  "meta": { "profile": [ "` + termObs + `" ] },
  "text": { "status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>" },
  "status": "final",
  "code": { "coding": [ ` + code + ` ] }` + extra + `
}`)
}

func bindingIssues(t *testing.T, data []byte) *OperationOutcome {
	t.Helper()
	return validate(t, termValidator(t), data, termObs)
}

func TestARequiredBindingRefusesACodeOutsideTheValueSet(t *testing.T) {
	oo := bindingIssues(t, termObservation(`{ "system": "`+animals+`", "code": "cat" }`, ""))
	is := findIssue(oo, SeverityError, "The Coding provided ("+animals+"#cat) is not in the value set '"+tvs+"snomed-or-animals'")
	if is == nil || is.Code != CodeCodeInvalid {
		t.Fatalf("no code-invalid error for cat; got:\n%s", dump(oo))
	}
	oo = bindingIssues(t, termObservation(`{ "system": "`+animals+`", "code": "dog" }`, ""))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Errorf("dog is in the value set; got:\n%s", dump(oo))
	}
}

func TestACodeFromASystemNotHeldIsInformationNotAnError(t *testing.T) {
	oo := bindingIssues(t, termObservation(`{ "system": "`+snomed+`", "code": "22298006" }`, ""))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("a SNOMED CT code gave errors:\n%s", dump(oo))
	}
	if findIssue(oo, SeverityInformation, "Code System URI '"+snomed+"' is unknown so the code cannot be validated") == nil {
		t.Errorf("no information issue for the SNOMED CT code; got:\n%s", dump(oo))
	}
}

func TestAnUnknownCodeOfAFragmentCodeSystemIsAWarning(t *testing.T) {
	dog := `{ "system": "` + animals + `", "code": "dog" }`
	oo := bindingIssues(t, termObservation(dog, `,
  "bodySite": { "coding": [ { "system": "http://junction.example/fhir/CodeSystem/colours", "code": "blue" } ] }`))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("an unknown code of a fragment gave errors:\n%s", dump(oo))
	}
	if findIssue(oo, SeverityWarning, "Unknown Code 'blue' in the CodeSystem 'http://junction.example/fhir/CodeSystem/colours' version '0.1.0' - note that the code system is labeled as a fragment") == nil {
		t.Errorf("no fragment warning; got:\n%s", dump(oo))
	}
}

func TestCodesThatCannotBeCheckedLocallyAreWarnings(t *testing.T) {
	dog := `{ "system": "` + animals + `", "code": "dog" }`
	oo := bindingIssues(t, termObservation(dog, `,
  "category": [ { "coding": [ { "system": "http://junction.example/fhir/CodeSystem/shapes", "code": "hexagon" } ] } ],
  "method": { "coding": [ { "system": "`+animals+`", "code": "cat" } ] }`))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("errors:\n%s", dump(oo))
	}
	for _, want := range []string{"only has example content", "filter operator \"sounds-like\" is not supported"} {
		if findIssue(oo, SeverityWarning, want) == nil {
			t.Errorf("no warning with %q; got:\n%s", want, dump(oo))
		}
	}
}

func TestACaseInsensitiveCodeSystemAcceptsAnyCaseInABinding(t *testing.T) {
	dog := `{ "system": "` + animals + `", "code": "dog" }`
	grades := `"valueCodeableConcept": { "coding": [ { "system": "http://junction.example/fhir/CodeSystem/grades", "code": "%s" } ] }`
	oo := bindingIssues(t, termObservation(dog, ",\n  "+strings.Replace(grades, "%s", "b", 1)))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Errorf("grade b gave errors:\n%s", dump(oo))
	}
	oo = bindingIssues(t, termObservation(dog, ",\n  "+strings.Replace(grades, "%s", "c", 1)))
	if findIssue(oo, SeverityError, "#c) is not in the value set") == nil {
		t.Errorf("grade c gave no error:\n%s", dump(oo))
	}
}

func TestAWrongDisplayIsAWarning(t *testing.T) {
	oo := bindingIssues(t, termObservation(`{ "system": "`+animals+`", "code": "dog", "display": "Doggy" }`, ""))
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("a wrong display gave errors:\n%s", dump(oo))
	}
	is := findIssue(oo, SeverityWarning, `Concept Display "Doggy" does not match expected "Dog" for '`+animals+`#dog'`)
	if is == nil {
		t.Fatalf("no display warning; got:\n%s", dump(oo))
	}
	if !strings.HasSuffix(is.Location[0], ".display") {
		t.Errorf("display warning at %s, want the display", is.Location[0])
	}
	oo = bindingIssues(t, termObservation(`{ "system": "`+animals+`", "code": "dog", "display": "Dog" }`, ""))
	if findIssue(oo, SeverityWarning, "Concept Display") != nil {
		t.Errorf("the right display was warned about:\n%s", dump(oo))
	}
}
