package hl7tofhir

import "strings"

// AL1 -> AllergyIntolerance (IG segment-al1-to-allergyintolerance).
// clinicalStatus is "active" (the IG's assignment: ait-1 needs one); type
// and category from AL1-2 (table 0127), criticality from AL1-4 (table
// 0128, SV high, MI low), code AL1-3, reaction manifestations AL1-5,
// onset AL1-6 (a bad date: a warning, left out). Keyed by patient and
// allergen, so resending an allergy updates it. An AL1 without AL1-3 names
// no allergen and is left out, with a warning.
func (c *conv) mapAL1(s seg) error {
	code := c.codeableAt(s, 3, 1)
	if code.Len() == 0 {
		return fieldErr(s.at(3, 1, 0), "", "is empty: the AL1 is not converted", "the allergen code/description: it is AllergyIntolerance.code")
	}
	allergen := s.get(3, 1, 3) + "|" + s.get(3, 1, 1)
	if s.get(3, 1, 1) == "" {
		allergen = "text|" + s.get(3, 1, 2)
	}
	e, _ := c.entry("AllergyIntolerance", c.patient.id+"|"+allergen)
	a := e.res
	a.Set("clinicalStatus", obj("coding", []any{obj("system", sysAllergyClinical, "code", "active", "display", "Active")}))
	typ := strings.ToUpper(s.get(2, 1, 1))
	if typ != "" && typ != "MC" {
		a.Set("type", "allergy")
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
	a.Set("onsetDateTime", c.dateTimeOrWarn(s, 6, 1, 1))
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
