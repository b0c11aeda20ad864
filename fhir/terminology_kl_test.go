package fhir

import (
	"strings"
	"testing"
)

// Terminology on the real KL packages (fhir/packages).

const (
	fsiii12 = "urn:oid:1.2.208.176.2.21"                             // FSIII in kl.dk.fhir.term 2.2.0
	fsiii10 = "http://kl.dk/fhir/common/caresocial/CodeSystem/FSIII" // FSIII in caresocial 0.7.0
	term12  = "http://fhir.kl.dk/term/ValueSet/"
	term10  = "http://kl.dk/fhir/common/caresocial/ValueSet/"
)

func pkgNamed(t *testing.T, v *Validator, name string) *Package {
	t.Helper()
	for _, p := range v.reg.packages {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("package %s not loaded", name)
	return nil
}

// In kl.dk.fhir.term 2.2.0 the importance levels are "descendent-of D" in FSIII, whose
// concepts nest D1 and D2 under D (and the home care conditions "descendent-of J1" …); in
// caresocial 0.7.0 the levels are listed.
func TestTheKLValueSetsHoldTheFSIIICodesBelowTheirRoots(t *testing.T) {
	for _, c := range []struct {
		v      *Validator
		pkg    string
		vs     string
		system string
	}{
		{validator120(t), "kl.dk.fhir.gateway", term12, fsiii12},
		{validator104(t), "hl7.fhir.dk.kl.gateway.care", term10, fsiii10},
	} {
		from := pkgNamed(t, c.v, c.pkg)
		for vs, want := range map[string]map[string]tri{
			"KLImportanceLevelCodesFSIII":          {"D1": triYes, "D2": triYes, "D": triNo, "C1": triNo},
			"KLCitizenObservationResultCodesFSIII": {"D1": triYes, "C4": triYes, "D": triNo},
			"KLCitizenObservationCodesFSIII":       {"D": triYes, "C": triYes, "D1": triNo},
			"KLConditionCodesHomeCare":             {"J1.1": triYes, "J1": triNo, "I1.1": triNo},
		} {
			exp := c.v.term.expand(c.vs+vs, from)
			for code, w := range want {
				if got := exp.check(c.system, code); got.state != w {
					t.Errorf("%s%s ∋ %s: %s (%s %s), want %s", c.vs, vs, code, got.state, got.why, got.detail, w)
				}
			}
		}
	}
}

// citizenObservation is a minimal Observation of the citizen's own view (FSIII code and value).
func citizenObservation(profile, system, code, value string) []byte {
	return []byte(`{
  "resourceType": "Observation",
  "id": "o1",
  "meta": { "profile": [ "` + profile + `" ] },
  "status": "final",
  "code": { "coding": [ { "system": "` + system + `", "code": "` + code + `" } ] },
  "subject": { "reference": "Patient/p1" },
  "effectiveDateTime": "2021-02-15",
  "valueCodeableConcept": { "coding": [ { "system": "` + system + `", "code": "` + value + `" } ] }
}`)
}

// The KL invariant klgateway-citizen-observation-code-and-value-must-match holds for code D
// with value D1 (an importance level) and fails for code D with value C1 (a performance
// level). kl.dk.fhir.gateway 1.2.0 reads value.ofType(CodeableConcept).memberOf(…) against
// kl.dk.fhir.term's "descendent-of D" value set.
func TestAnFSIIIObservationWithCodeDAndValueD1MeetsTheCodeAndValueInvariant(t *testing.T) {
	checkCodeAndValue(t, validator120(t), gw12+"klgateway-care-citizens-own-observation", fsiii12)
}

// hl7.fhir.dk.kl.gateway.care 1.0.4 writes the same invariant as
// valueCodeableConcept.memberOf(…): the HL7 engine names a choice element by its JSON name
// (valueCodeableConcept) as well as by value, so the path must find the value. The value set
// itself holds D1 (TestTheKLValueSetsHoldTheFSIIICodesBelowTheirRoots).
func TestAnFSIIIObservationInTheCarePackageMeetsTheCodeAndValueInvariant(t *testing.T) {
	checkCodeAndValue(t, validator104(t), gw10+"klgateway-care-citizens-own-observation", fsiii10)
}

func checkCodeAndValue(t *testing.T, v *Validator, profile, system string) {
	t.Helper()
	const key = "klgateway-citizen-observation-code-and-value-must-match"
	oo := validate(t, v, citizenObservation(profile, system, "D", "D1"), profile)
	for _, is := range oo.Issue {
		if strings.Contains(is.Diagnostics, key) || is.Code == CodeCodeInvalid {
			t.Errorf("D with D1: %s %s", is.Severity, is.Diagnostics)
		}
	}
	oo = validate(t, v, citizenObservation(profile, system, "D", "C1"), profile)
	if findIssue(oo, SeverityError, key) == nil {
		t.Errorf("D with C1: no %s error; got:\n%s", key, dump(oo))
	}
}
