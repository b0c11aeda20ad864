package fhir

import (
	"strings"
	"sync"
	"testing"
)

// Checks on small hand-written profiles (testdata/profiles, all differential-only, so the
// snapshot generator is exercised too) and resources (testdata/resources).

const testBase = "http://junction.example/fhir/StructureDefinition/"

var (
	testOnce sync.Once
	testV    *Validator
	testErr  error
)

func testValidator(t *testing.T) *Validator {
	t.Helper()
	testOnce.Do(func() {
		var p *Package
		if p, testErr = LoadPackage("testdata/profiles"); testErr == nil {
			testV, testErr = NewValidator(p)
		}
	})
	if testErr != nil {
		t.Fatal(testErr)
	}
	return testV
}

// mutate replaces old by new in the valid test bundle (old must occur exactly once).
func mutate(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(readFile(t, "testdata/resources/bundle-valid.json"))
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("mutation: %q occurs %d times in the test bundle", old, n)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

// expect validates data against the test bundle profile and requires an issue of the given
// severity whose diagnostics contain all parts and whose first location is loc.
func expect(t *testing.T, data []byte, severity, loc string, parts ...string) *Issue {
	t.Helper()
	oo := validate(t, testValidator(t), data, testBase+"test-bundle")
	is := findIssue(oo, severity, parts...)
	if is == nil {
		t.Fatalf("no %s issue with %q; got:\n%s", severity, parts, dump(oo))
	}
	if loc != "" && is.Location[0] != loc {
		t.Errorf("issue %q located at %q, want %q", is.Diagnostics, is.Location[0], loc)
	}
	if len(is.Location) != 2 || !strings.HasPrefix(is.Location[1], "Line ") || len(is.Expression) != 1 || is.Expression[0] != is.Location[0] {
		t.Errorf("issue %q: location %q / expression %q, want [path, Line N, Col M] and [path]", is.Diagnostics, is.Location, is.Expression)
	}
	return is
}

const (
	patientLoc = "Bundle.entry[0].resource.ofType(Patient)"
	orgLoc     = "Bundle.entry[1].resource.ofType(Organization)"
	obsLoc     = "Bundle.entry[2].resource.ofType(Observation)"
)

func TestTestBundleValid(t *testing.T) {
	oo := validate(t, testValidator(t), readFile(t, "testdata/resources/bundle-valid.json"), testBase+"test-bundle")
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("valid test bundle has errors:\n%s", dump(oo))
	}
}

func TestUnknownElement(t *testing.T) {
	is := expect(t, mutate(t, `"active" : true,`, `"active" : true,
        "favouriteColour" : "blue",`), SeverityError, patientLoc+".favouriteColour", "Unrecognised property '@favouriteColour'")
	if is.Location[1] != "Line 38, Col 36" {
		t.Errorf("position %s, want Line 38, Col 36 (just past the comma after the value)", is.Location[1])
	}
	expect(t, mutate(t, `"valueString" : "Aarhus"`, `"valueFoo" : "Aarhus"`), SeverityError, patientLoc+".extension[0].valueFoo", "Unrecognised property '@valueFoo'")
}

func TestCardinality(t *testing.T) {
	expect(t, mutate(t, `"name" : "Aarhus Kommune"`, `"alias" : [ "AaK" ]`), SeverityError, orgLoc,
		"Organization.name: minimum required = 1, but only found 0 (from "+testBase+"test-organization)")
	second := `"name" : [
          {
            "use" : "official",
            "family" : "Berg",
            "given" : [
              "Karen"
            ]
          },
          {
            "use" : "official",
            "family" : "Holm"
          }
        ],`
	expect(t, mutate(t, `"name" : [
          {
            "use" : "official",
            "family" : "Berg",
            "given" : [
              "Karen"
            ]
          }
        ],`, second), SeverityError, patientLoc, "Patient.name: max allowed = 1, but found 2 (from "+testBase+"test-patient)")
	// A JSON array where the element does not repeat.
	expect(t, mutate(t, `"gender" : "female"`, `"gender" : [ "female" ]`), SeverityError, "", "must be an simple value, not an array")
}

func TestPrimitiveFormatsEndToEnd(t *testing.T) {
	is := expect(t, mutate(t, `"birthDate" : "1957-01-01"`, `"birthDate" : "1957-13-01"`), SeverityError, patientLoc+".birthDate", "Not a valid date (1957-13-01)")
	if is.Code != CodeValue {
		t.Errorf("code %s, want value", is.Code)
	}
	expect(t, mutate(t, `"active" : true`, `"active" : "true"`), SeverityError, patientLoc+".active", "the primitive value must be a boolean")
	expect(t, mutate(t, `"id" : "p1"`, `"id" : "p 1"`), SeverityError, patientLoc+".id", "id value 'p 1' is not valid")
}

func TestChoiceTypes(t *testing.T) {
	// effective[x] is restricted to dateTime by the profile.
	expect(t, mutate(t, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00"`, `"effectivePeriod" : { "start" : "2024-05-01" }`),
		SeverityError, obsLoc+".effective.ofType(Period)", "The type 'Period' is not valid here - must be one of dateTime")
	// value[x] has closed type slicing with only valueQuantity.
	expect(t, mutate(t, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",`, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",
        "valueString" : "high",`), SeverityError, obsLoc+".value.ofType(string)", "does not match any known slice", "CLOSED")
	// A name that is no type of the choice.
	expect(t, mutate(t, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00"`, `"effectiveDate" : "2024-05-01"`),
		SeverityError, obsLoc+".effectiveDate", "Unrecognised property '@effectiveDate'")
}

func TestFixedAndPattern(t *testing.T) {
	expect(t, mutate(t, `"active" : true`, `"active" : false`), SeverityError, patientLoc+".active", "Value is 'false' but must be 'true'")
	expect(t, mutate(t, `"use" : "official"`, `"use" : "usual"`), SeverityError, patientLoc+".name[0].use", "Value is 'usual' but must be 'official'")
	expect(t, mutate(t, `"code" : "85354-9"`, `"code" : "55284-4"`), SeverityError, obsLoc+".code",
		"The pattern [system http://loinc.org, code 85354-9] defined in the profile "+testBase+"test-observation not found")
	// fixed system inside the valueQuantity type slice of component? no: on Observation.value[x]:valueQuantity.system
	expect(t, mutate(t, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",`, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",
        "valueQuantity" : { "value" : 1, "system" : "http://example.org/units", "code" : "x" },`),
		SeverityError, obsLoc+".value.ofType(Quantity).system", "Value is 'http://example.org/units' but must be 'http://unitsofmeasure.org'")
}

func TestBindings(t *testing.T) {
	// required (profile ValueSet listing concepts)
	is := expect(t, mutate(t, `"code" : "da"`, `"code" : "de"`), SeverityError, patientLoc+".communication[0].language.coding[0]",
		"The Coding provided (urn:ietf:bcp:47#de) is not in the value set 'http://junction.example/fhir/ValueSet/test-languages', and a code is required from this value set")
	if is.Code != CodeCodeInvalid {
		t.Errorf("code %s, want code-invalid", is.Code)
	}
	// required (core binding on a code)
	expect(t, mutate(t, `"gender" : "female"`, `"gender" : "femme"`), SeverityError, patientLoc+".gender",
		"The value provided ('femme') is not in the value set 'http://hl7.org/fhir/ValueSet/administrative-gender', and a code is required from this value set")
	// extensible → warning; the filter is-a includes married, the exclude drops married-church
	expect(t, mutate(t, `"code" : "married-civil"`, `"code" : "married-church"`), SeverityWarning, patientLoc+".maritalStatus.coding[0]",
		"The Coding provided (http://junction.example/fhir/CodeSystem/test-codes#married-church) is not in the value set 'http://junction.example/fhir/ValueSet/test-marital', and a code should come from this value set")
	// descendent-of single does not include single itself
	expect(t, mutate(t, `"code" : "married-civil"`, `"code" : "single"`), SeverityWarning, "", "test-codes#single) is not in the value set")
	for _, ok := range []string{"married", "single-never"} {
		oo := validate(t, testValidator(t), mutate(t, `"code" : "married-civil"`, `"code" : "`+ok+`"`), testBase+"test-bundle")
		if is := findIssue(oo, "", "test-marital"); is != nil {
			t.Errorf("%s should be in test-marital: %s", ok, is.Diagnostics)
		}
	}
	// a code from a system the validator does not hold → information, never an error
	is = expect(t, mutate(t, `"system" : "urn:ietf:bcp:47",
                  "code" : "da"`, `"system" : "http://loinc.org",
                  "code" : "LA43-2"`), SeverityInformation, patientLoc+".communication[0].language.coding[0]", "http://loinc.org", "unknown")
	if is.Code == CodeCodeInvalid {
		t.Error("an unknown system must not be code-invalid")
	}
	// preferred → nothing
	oo := validate(t, testValidator(t), mutate(t, `"status" : "final",`, `"status" : "final",
        "interpretation" : [ { "coding" : [ { "system" : "http://example.org/x", "code" : "zz" } ] } ],`), testBase+"test-bundle")
	if is := findIssue(oo, "", "test-marital"); is != nil {
		t.Errorf("preferred binding reported: %s", is.Diagnostics)
	}
}

func TestSlicing(t *testing.T) {
	// value discriminator, closed: an identifier of another system matches no slice
	expect(t, mutate(t, `"system" : "http://junction.example/id"`, `"system" : "http://other.example/id"`), SeverityError,
		patientLoc+".identifier[1]", "This element does not match any known slice defined in the profile "+testBase+"test-patient and slicing is CLOSED")
	// slice max: two cpr identifiers
	expect(t, mutate(t, `"system" : "http://junction.example/id"`, `"system" : "urn:oid:1.2.208.176.1.2"`), SeverityError,
		patientLoc, "Patient.identifier:cpr: max allowed = 1, but found 2")
	// slice min: no cpr identifier
	expect(t, mutate(t, `"system" : "urn:oid:1.2.208.176.1.2",
            "value" : "0101570001"`, `"system" : "http://junction.example/id",
            "value" : "L-18"`), SeverityError, patientLoc, "Patient.identifier:cpr: minimum required = 1, but only found 0")
	// pattern discriminator, open: other components are fine, but systolic is required
	expect(t, mutate(t, `"code" : "8480-6"`, `"code" : "8867-4"`), SeverityError, obsLoc,
		"Observation.component:systolic: minimum required = 1, but only found 0")
	// exists discriminator, ordered: the timed note must come first
	expect(t, mutate(t, `{
            "time" : "2024-05-01T10:31:00Z",
            "text" : "Measured sitting"
          },
          {
            "text" : "Calm patient"
          }`, `{
            "text" : "Calm patient"
          },
          {
            "time" : "2024-05-01T10:31:00Z",
            "text" : "Measured sitting"
          }`), SeverityError, obsLoc+".note[1]", "is out of order in ordered slice")
	// value discriminator, openAtEnd: other identifiers may follow the slices, not precede them
	labFirst := `"identifier" : [ { "system" : "http://junction.example/lab", "value" : "1" }, { "system" : "http://x.example", "value" : "2" } ],`
	if oo := validate(t, testValidator(t), mutate(t, `"status" : "final",`, labFirst+`
        "status" : "final",`), testBase+"test-bundle"); oo.HasError() {
		t.Errorf("openAtEnd, slice first:\n%s", dump(oo))
	}
	expect(t, mutate(t, `"status" : "final",`, `"identifier" : [ { "system" : "http://x.example", "value" : "2" }, { "system" : "http://junction.example/lab", "value" : "1" } ],
        "status" : "final",`), SeverityError, obsLoc+".identifier[1]", "slicing is open at the end only")
	// profile discriminator, closed: an entry whose resource fits none of the slices' profiles
	expect(t, mutate(t, `"resourceType" : "Organization",
        "id" : "o1",`, `"resourceType" : "Practitioner",
        "id" : "o1",`), SeverityError, "Bundle.entry[1]", "does not match any known slice", "CLOSED")
}

func TestMetaProfile(t *testing.T) {
	data := readFile(t, "testdata/resources/bundle-valid.json")
	oo := validate(t, testValidator(t), data, "http://junction.example/fhir/StructureDefinition/other-bundle")
	is := findIssue(oo, SeverityError, "meta.profile must name one of http://junction.example/fhir/StructureDefinition/other-bundle")
	if is == nil || is.Location[0] != "Bundle" || is.Location[1] != "Line 1, Col 2" {
		t.Fatalf("not-accepted profile: %+v\n%s", is, dump(oo))
	}
	expect(t, mutate(t, `"http://junction.example/fhir/StructureDefinition/test-observation"`, `"http://junction.example/fhir/StructureDefinition/nope"`),
		SeverityError, obsLoc, "Profile reference 'http://junction.example/fhir/StructureDefinition/nope' has not been checked because it is unknown")
	// Without accepted profiles, any claim is validated.
	if oo := validate(t, testValidator(t), data); oo.HasError() {
		t.Fatalf("no accepted list:\n%s", dump(oo))
	}
}

func TestReferences(t *testing.T) {
	// The target does not conform to the only target profile: its own errors, where they are,
	// once; nothing at the reference (there is no choice to report on).
	noName := mutate(t, `"name" : "Aarhus Kommune"`, `"alias" : [ "AaK" ]`)
	expect(t, noName, SeverityError, orgLoc, "Organization.name: minimum required = 1, but only found 0 (from "+testBase+"test-organization)")
	if oo := validate(t, testValidator(t), noName, testBase+"test-bundle"); findIssue(oo, SeverityError, "among choices") != nil || len(errorsOf(oo)) != 2 {
		t.Errorf("want the Organization's two errors only:\n%s", dump(oo))
	}
	// Wrong target type.
	expect(t, mutate(t, `"reference" : "urn:uuid:5a0e6d4c-7c7e-4d6f-9a57-0b8f5c1e2a01"`, `"reference" : "Organization/o1"`), SeverityError,
		obsLoc+".subject", "Invalid Resource target type. Found Organization, but expected one of (Patient)")
	// Malformed relative reference.
	expect(t, mutate(t, `"reference" : "Organization/o1"`, `"reference" : "organisation o1"`), SeverityError,
		patientLoc+".managingOrganization", "Relative URLs must be of the format [ResourceName]/[id]")
}

func TestExtensions(t *testing.T) {
	expect(t, mutate(t, `"valueString" : "Aarhus"`, `"valueInteger" : 8000`), SeverityError, patientLoc+".extension[0].value.ofType(integer)",
		"The type 'integer' is not valid here - must be one of string")
	expect(t, mutate(t, `"url" : "http://junction.example/fhir/StructureDefinition/test-birthplace"`, `"url" : "http://junction.example/fhir/StructureDefinition/shoe-size"`),
		SeverityError, patientLoc+".extension[0]", "The extension http://junction.example/fhir/StructureDefinition/shoe-size is unknown, and not allowed here")
	// Used where its context does not allow it.
	expect(t, mutate(t, `"status" : "final",`, `"status" : "final",
        "extension" : [ { "url" : "http://junction.example/fhir/StructureDefinition/test-birthplace", "valueString" : "x" } ],`),
		SeverityError, obsLoc+".extension[0]", "The extension "+testBase+"test-birthplace is not allowed to be used at this point (allowed = Patient")
	// ext-1: value and extensions both
	expect(t, mutate(t, `"valueString" : "Aarhus"`, `"valueString" : "Aarhus", "extension" : [ { "url" : "http://x.example/e", "valueBoolean" : true } ]`),
		SeverityError, patientLoc+".extension[0]", "Constraint failed: ext-1")
}

func TestInvariants(t *testing.T) {
	is := expect(t, mutate(t, `"family" : "Berg",`, ``), SeverityError, patientLoc,
		"Constraint failed: tst-1: 'A name needs a family name'")
	if is.Code != CodeInvariant {
		t.Errorf("code %s, want invariant", is.Code)
	}
	// An expression the evaluator cannot evaluate is a warning naming key and expression.
	expect(t, readFile(t, "testdata/resources/bundle-valid.json"), SeverityWarning, patientLoc,
		"Constraint tst-2 could not be evaluated", "name.family = %notHeld")
	// Core invariants: per-1 on Period (start <= end).
	expect(t, mutate(t, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",`, `"effectiveDateTime" : "2024-05-01T10:30:00+02:00",
        "issued" : "2024-05-01T10:30:00Z",
        "valuePeriod" : { "start" : "2024-05-02", "end" : "2024-05-01" },`), SeverityError, "", "Constraint failed: per-1")
	// ele-1 via the reader: empty object
	expect(t, mutate(t, `"gender" : "female",`, `"gender" : "female",
        "photo" : [ { } ],`), SeverityError, patientLoc+".photo[0]", "Object must have some content")
}

func TestOptionsProcessingCodes(t *testing.T) {
	oo, err := testValidator(t).Validate(mutate(t, `"active" : true`, `"active" : false`), Options{ProcessingCodes: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range oo.Issue {
		if is.Code != CodeProcessing {
			t.Fatalf("issue code %s with ProcessingCodes", is.Code)
		}
	}
}

func TestBadJSON(t *testing.T) {
	oo := validate(t, testValidator(t), []byte("{\n  \"resourceType\" : \"Patient\",\n  \"id\" : \n}"))
	if len(oo.Issue) != 1 || oo.Issue[0].Severity != SeverityFatal || oo.Issue[0].Location[0] != "Line 4, Col 1" {
		t.Fatalf("bad JSON outcome:\n%s", dump(oo))
	}
	oo = validate(t, testValidator(t), []byte(`{"resourceType":"Patient","id":"a","id":"b"}`))
	if is := findIssue(oo, SeverityError, "The JSON property 'id' is a duplicate and will be ignored"); is == nil || is.Location[1] != "Line 1, Col 45" {
		t.Fatalf("duplicate key:\n%s", dump(oo))
	}
	oo = validate(t, testValidator(t), []byte(`{"resourceType":"Spaceship","id":"a"}`))
	if findIssue(oo, SeverityError, "unknown name 'Spaceship'") == nil {
		t.Fatalf("unknown resource type:\n%s", dump(oo))
	}
}

func TestConcurrentValidation(t *testing.T) {
	v := validator104(t)
	data := readFile(t, seedPath)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				oo, err := v.Validate(data, Options{Profiles: []string{reportURL}})
				if err != nil || oo.HasError() {
					t.Error(err, dump(oo))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Core invariants on resources validated against the base definitions only.
func TestCoreInvariants(t *testing.T) {
	v := testValidator(t)
	cases := []struct {
		name, src, want, loc string
	}{
		{"dom-3: contained but not referenced",
			`{"resourceType":"Patient","id":"p","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`,
			"Constraint failed: dom-3", "Patient"},
		{"dom-2: nested contained",
			`{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Organization","id":"o","name":"x","contained":[{"resourceType":"Organization","id":"o2","name":"y"}]}],"managingOrganization":{"reference":"#o"}}`,
			"Constraint failed: dom-2", "Patient"},
		{"dom-6: no narrative (warning)",
			`{"resourceType":"Patient","id":"p"}`,
			"Constraint failed: dom-6", "Patient"},
		{"txt-1: narrative with script",
			`{"resourceType":"Patient","id":"p","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x</script></div>"}}`,
			"Constraint failed: txt-1", "Patient.text.div"},
		{"bdl-7: duplicate fullUrl",
			`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:4a45e179-ace1-4ace-9991-8276c0ba490a","resource":{"resourceType":"Basic","id":"a","code":{"text":"x"}}},{"fullUrl":"urn:uuid:4a45e179-ace1-4ace-9991-8276c0ba490a","resource":{"resourceType":"Basic","id":"b","code":{"text":"y"}}}]}`,
			"Constraint failed: bdl-7", "Bundle"},
		{"ele-1 on a primitive extension-less _element",
			`{"resourceType":"Patient","id":"p","_gender":{}}`,
			"Object must have some content", "Patient.gender"},
		{"ref-1: local reference without the contained resource",
			`{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"#nowhere"}}`,
			"Constraint failed: ref-1", "Patient.managingOrganization"},
	}
	for _, c := range cases {
		oo := validate(t, v, []byte(c.src))
		is := findIssue(oo, "", c.want)
		if is == nil {
			t.Errorf("%s: no %q in\n%s", c.name, c.want, dump(oo))
			continue
		}
		if is.Location[0] != c.loc {
			t.Errorf("%s: at %q, want %q", c.name, is.Location[0], c.loc)
		}
	}
	// And the same resources done right raise none of them.
	ok := `{"resourceType":"Patient","id":"p","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"contained":[{"resourceType":"Organization","id":"o","name":"x"}],"managingOrganization":{"reference":"#o"}}`
	if oo := validate(t, v, []byte(ok)); len(oo.Issue) != 1 || oo.Issue[0].Severity != SeverityInformation {
		t.Errorf("valid Patient:\n%s", dump(oo))
	}
}
