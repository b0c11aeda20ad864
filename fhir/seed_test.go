package fhir

import (
	"strings"
	"testing"
)

// Acceptance on the Care Gateway seed: its example bundle (testdata, pretty-printed the way
// the HAPI line numbers show it was submitted) against the real KL Gateway packages.

func seedText(t *testing.T) string { return string(readFile(t, seedPath)) }

// withoutEncounterPeriod deletes the Encounter's period, its last property, so that
// subject becomes the last object property (as in the seed's error example).
func withoutEncounterPeriod(t *testing.T, s string) string {
	t.Helper()
	i := strings.LastIndex(s, ",\n        \"period\" : {")
	if i < 0 {
		t.Fatal("no Encounter.period in the seed")
	}
	j := strings.Index(s[i:], "\n        }") + len("\n        }")
	return s[:i] + s[i+j:]
}

func TestSeedBundleValid(t *testing.T) {
	oo := validate(t, validator104(t), readFile(t, seedPath), reportURL)
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("seed bundle has errors:\n%s", dump(oo))
	}
}

// The seed's error example: HAPI printed these two errors, locations and all, and no other
// (none at the Condition's follow-up-encounter reference, whose one target profile the
// Encounter misses: its error is the Encounter's own).
func TestSeedEncounterWithoutPeriodGivesExactlyHAPIsTwoErrors(t *testing.T) {
	oo := validate(t, validator104(t), []byte(withoutEncounterPeriod(t, seedText(t))), reportURL)
	if errs := errorsOf(oo); len(errs) != 2 {
		t.Errorf("%d errors, HAPI printed 2:\n%s", len(errs), dump(oo))
	}
	want := []Issue{
		{Diagnostics: "Unable to find a match for profile Condition/ad506910-9030-4ddb-b8ce-7bb6a69d808e among choices: " + gw10 + "klgateway-care-condition, " + gw10 + "klgateway-care-planned-intervention",
			Location: []string{"Bundle.entry[5].resource.ofType(Observation).focus[0]", "Line 238, Col 12"}},
		{Diagnostics: "Encounter.period: minimum required = 1, but only found 0 (from " + gw10 + "klgateway-care-encounter)",
			Location: []string{"Bundle.entry[6].resource.ofType(Encounter)", "Line 282, Col 22"}},
	}
	for _, w := range want {
		is := findIssue(oo, SeverityError, w.Diagnostics)
		if is == nil {
			t.Errorf("missing %q in:\n%s", w.Diagnostics, dump(oo))
			continue
		}
		if strings.Join(is.Location, " | ") != strings.Join(w.Location, " | ") || is.Expression[0] != w.Location[0] {
			t.Errorf("%q at %q / %q, want %q", is.Diagnostics, is.Location, is.Expression, w.Location)
		}
	}
	// HAPI codes every issue "processing"; with ProcessingCodes so do we.
	oo, _ = validator104(t).Validate([]byte(withoutEncounterPeriod(t, seedText(t))), Options{Profiles: []string{reportURL}, ProcessingCodes: true})
	if is := findIssue(oo, SeverityError, "Encounter.period"); is == nil || is.Code != CodeProcessing {
		t.Errorf("ProcessingCodes: %+v", is)
	}
}

func TestSeedFocusToNonConformingCondition(t *testing.T) {
	// Condition ad506910 gets a code outside the gateway's condition value set.
	s := strings.Replace(seedText(t), `"code" : "I2.1"`, `"code" : "I9.9"`, 1)
	oo := validate(t, validator104(t), []byte(s), reportURL)
	is := findIssue(oo, SeverityError, "Unable to find a match for profile Condition/ad506910-9030-4ddb-b8ce-7bb6a69d808e among choices: "+
		gw10+"klgateway-care-condition, "+gw10+"klgateway-care-planned-intervention")
	if is == nil {
		t.Fatalf("no focus error:\n%s", dump(oo))
	}
	if is.Location[0] != "Bundle.entry[5].resource.ofType(Observation).focus[0]" || is.Location[1] != "Line 238, Col 12" {
		t.Errorf("focus error at %q", is.Location)
	}
}

func TestSeedCodeNotInRequiredValueSet(t *testing.T) {
	s := strings.Replace(seedText(t), `"code" : "I2.1"`, `"code" : "I9.9"`, 1)
	oo := validate(t, validator104(t), []byte(s), reportURL)
	is := findIssue(oo, SeverityError, "I9.9", "http://kl.dk/fhir/common/caresocial/CodeSystem/FSIII", "http://gateway.kl.dk/1.0/ValueSet/FSIIICareConditions")
	if is == nil {
		t.Fatalf("no binding error naming code, system and value set:\n%s", dump(oo))
	}
	if is.Location[0] != "Bundle.entry[2].resource.ofType(Condition).code.coding[0]" {
		t.Errorf("binding error at %q", is.Location)
	}
}

func TestSeedNotAcceptedProfile(t *testing.T) {
	oo := validate(t, validator104(t), readFile(t, seedPath), gw12+"klgateway-care-delivery-report")
	if findIssue(oo, SeverityError, "meta.profile must name one of "+gw12+"klgateway-care-delivery-report") == nil {
		t.Fatalf("claimed 1.0 profile accepted as 1.2:\n%s", dump(oo))
	}
}

func TestSeedNoTerminologyErrorsForSnomed(t *testing.T) {
	// The follow-up observations carry SNOMED CT codes, a system the validator does not hold.
	oo := validate(t, validator104(t), readFile(t, seedPath), reportURL)
	for _, is := range oo.Issue {
		if strings.Contains(is.Diagnostics, "snomed") && is.Severity != SeverityInformation {
			t.Errorf("SNOMED issue above information: %s", is.Diagnostics)
		}
	}
}

// The 1.2.0 IG (canonical base http://fhir.kl.dk/gateway) validates on its own, with its own
// dependencies, and does not know the 1.0 profiles.
func TestGateway120(t *testing.T) {
	v := validator120(t)
	data := readFile(t, "testdata/care-delivery-report-1.2.0.json")
	oo := validate(t, v, data, gw12+"klgateway-care-delivery-report")
	if errs := errorsOf(oo); len(errs) > 0 {
		t.Fatalf("1.2.0 bundle has errors:\n%s", dump(oo))
	}
	oo = validate(t, v, []byte(withoutEncounterPeriod(t, string(data))), gw12+"klgateway-care-delivery-report")
	if is := findIssue(oo, SeverityError, "Encounter.period: minimum required = 1, but only found 0 (from "+gw12+"klgateway-care-encounter)"); is == nil || is.Location[1] != "Line 282, Col 22" {
		t.Fatalf("1.2.0 period error: %+v\n%s", is, dump(oo))
	}
	oo = validate(t, v, readFile(t, seedPath), reportURL)
	if findIssue(oo, SeverityError, "Profile reference '"+reportURL+"' has not been checked because it is unknown") == nil {
		t.Fatalf("1.2.0 validator knows the 1.0 profile:\n%s", dump(oo))
	}
}

// Both IG versions loaded side by side: each bundle validates against its own profiles,
// and hl7.fhir.dk.core 1.1.0 and 3.2.0 (same canonical URLs) are kept apart.
func TestGatewayVersionsSideBySide(t *testing.T) {
	v, err := NewValidator(loadPackages(t,
		"hl7.fhir.dk.kl.gateway.care#1.0.4", "dk.fhir.ig.kl.common.caresocial#0.7.0", "hl7.fhir.dk.core#1.1.0",
		"kl.dk.fhir.gateway#1.2.0", "kl.dk.fhir.term#2.2.0", "hl7.fhir.dk.core#3.2.0")...)
	if err != nil {
		t.Fatal(err)
	}
	if oo := validate(t, v, readFile(t, seedPath), reportURL); oo.HasError() {
		t.Errorf("1.0.4 bundle:\n%s", dump(oo))
	}
	if oo := validate(t, v, readFile(t, "testdata/care-delivery-report-1.2.0.json"), gw12+"klgateway-care-delivery-report"); oo.HasError() {
		t.Errorf("1.2.0 bundle:\n%s", dump(oo))
	}
}

func TestSeedFullURLMismatch(t *testing.T) {
	s := strings.Replace(seedText(t), `"id" : "1fb0990d-aac7-4661-b976-874e051c5ae6"`, `"id" : "1fb0990d-aac7-4661-b976-874e051c5ae7"`, 1)
	oo := validate(t, validator104(t), []byte(s), reportURL)
	if is := findIssue(oo, SeverityError, "Resource ID does not match the ID in the entry full URL ('1fb0990d-aac7-4661-b976-874e051c5ae7' vs 'Encounter/1fb0990d-aac7-4661-b976-874e051c5ae6')"); is == nil || is.Location[0] != "Bundle.entry[6]" {
		t.Fatalf("id/fullUrl mismatch: %+v\n%s", is, dump(oo))
	}
}
