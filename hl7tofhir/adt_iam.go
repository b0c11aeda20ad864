package hl7tofhir

import "strings"

// IAM (ADT^A60 adverse reaction information) -> AllergyIntolerance (IG
// segment-iam-to-allergyintolerance), the v2.4+ successor of AL1, mapped
// like it (al1.go) with what IAM adds:
//
//   - code IAM-3 (an IAM without it is left out, with a warning); type and
//     category IAM-2 (table 0127); criticality IAM-4 (table 0128);
//     reaction manifestations IAM-5; onset IAM-11 (date), else IAM-12
//     (text); recordedDate IAM-13;
//   - identifier IAM-7 (the allergy's unique identifier), which keys the
//     resource when sent (else patient and allergen, as AL1);
//   - IAM-9 sensitivity (table 0436) AL allergy, IN intolerance -> type;
//   - verificationStatus IAM-17 (table 0438: C confirmed; U, P, S, D
//     unconfirmed; E entered-in-error); IAM-6 action D (delete) ->
//     entered-in-error too, as DG1-21 "D" is, since every entry is a PUT.
//     clinicalStatus is active, except with entered-in-error (ait-2).
func (c *conv) mapIAM(s seg) error {
	code := c.codeableAt(s, 3, 1)
	if code.Len() == 0 {
		return fieldErr(s.at(3, 1, 0), "", "is empty: the IAM is not converted", "the allergen code/description: it is AllergyIntolerance.code")
	}
	id, idKey := c.entityIdentifier(s.field(7, 1), "")
	key := c.patient.id + "|" + s.get(3, 1, 3) + "|" + s.get(3, 1, 1)
	switch {
	case idKey != "":
		key = c.patient.id + "|iam|" + idKey
	case s.get(3, 1, 1) == "":
		key = c.patient.id + "|text|" + s.get(3, 1, 2)
	}
	e, _ := c.entry("AllergyIntolerance", key)
	a := e.res
	if id != nil {
		a.Set("identifier", []any{id})
	}
	verification := allergyVerificationMap[strings.ToUpper(s.get(17, 1, 1))]
	if strings.EqualFold(s.get(6, 1, 1), "D") {
		verification = "entered-in-error"
	}
	if verification != "entered-in-error" {
		a.Set("clinicalStatus", obj("coding", []any{obj("system", sysAllergyClinical, "code", "active", "display", "Active")}))
	}
	if verification != "" {
		a.Set("verificationStatus", obj("coding", []any{obj("system", sysAllergyVerification, "code", verification)}))
	}
	typ := strings.ToUpper(s.get(2, 1, 1))
	switch strings.ToUpper(s.get(9, 1, 1)) {
	case "AL":
		a.Set("type", "allergy")
	case "IN":
		a.Set("type", "intolerance")
	default:
		if typ != "" && typ != "MC" {
			a.Set("type", "allergy")
		}
	}
	if cat, ok := allergyCategoryMap[typ]; ok {
		a.Set("category", []any{cat})
	}
	a.Set("criticality", allergyCriticalityMap[strings.ToUpper(s.get(4, 1, 1))])
	a.Set("code", code)
	a.Set("patient", c.patient.ref())
	if c.encounter != nil {
		a.Set("encounter", c.encounter.ref())
	}
	if onset := c.dateTimeOrWarn(s, 11, 1, 1); onset != "" {
		a.Set("onsetDateTime", onset)
	} else {
		a.Set("onsetString", s.get(12, 1, 1))
	}
	a.Set("recordedDate", c.dateTimeOrWarn(s, 13, 1, 1))
	var manifestations []any
	for r := 1; r <= s.reps(5); r++ {
		if v := s.get(5, r, 1); v != "" {
			manifestations = append(manifestations, obj("text", v))
		}
	}
	if len(manifestations) > 0 {
		a.Set("reaction", []any{obj("manifestation", manifestations)})
	}
	return nil
}

const sysAllergyVerification = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"

// Table 0438 Allergy Clinical Status -> AllergyIntolerance.verificationStatus.
var allergyVerificationMap = map[string]string{
	"C": "confirmed", "U": "unconfirmed", "P": "unconfirmed", "S": "unconfirmed", "D": "unconfirmed",
	"E": "entered-in-error",
}

func init() {
	segmentMappers["IAM"] = func(c *conv, s seg, _ *group) error { return c.mapIAM(s) }
}
