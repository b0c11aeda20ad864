package hl7tofhir

import (
	"strconv"
	"strings"
)

// DG1 -> Condition (IG segment-dg1-to-condition), category
// encounter-diagnosis, and an Encounter.diagnosis entry (IG
// segment-dg1-to-encounter) with DG1-6 diagnosis type as use and DG1-15
// priority as rank.
//
//   - code DG1-3 (DG1-4 description as its text); onsetDateTime DG1-5;
//     recordedDate DG1-19; asserter DG1-16; DG1-21 "D" (delete) ->
//     verificationStatus entered-in-error.
//
// Keyed by encounter (else patient) and diagnosis code. A bad date or
// priority is a warning and is left out; a DG1 with neither code nor
// description is left out, with a warning.
func (c *conv) mapDG1(s seg) error {
	code := c.codeableAt(s, 3, 1)
	if desc := s.get(4, 1, 1); desc != "" && code.Get("text") == nil {
		code.Set("text", desc)
	}
	if code.Len() == 0 {
		return fieldErr(s.at(3, 1, 0), "", "is empty: the DG1 is not converted", "a diagnosis code (or DG1-4 description): it is Condition.code")
	}
	scope := c.patient.id
	if c.encounter != nil {
		scope = c.encounter.id
	}
	diag := s.get(3, 1, 3) + "|" + s.get(3, 1, 1)
	if s.get(3, 1, 1) == "" {
		diag = "text|" + code.Get("text").(string)
	}
	e, _ := c.entry("Condition", scope+"|"+diag)
	cond := e.res
	if strings.EqualFold(s.get(21, 1, 1), "D") {
		cond.Set("verificationStatus", obj("coding", []any{obj("system", sysConditionVer, "code", "entered-in-error", "display", "Entered in Error")}))
	}
	cond.Set("category", []any{obj("coding", []any{obj("system", sysConditionCat, "code", "encounter-diagnosis", "display", "Encounter Diagnosis")})})
	cond.Set("code", code)
	cond.Set("subject", c.patient.ref())
	if c.encounter != nil {
		cond.Set("encounter", c.encounter.ref())
	}
	cond.Set("onsetDateTime", c.dateTimeOrWarn(s, 5, 1, 1))
	cond.Set("recordedDate", c.dateTimeOrWarn(s, 19, 1, 1))
	if dr := c.practitioner(s.field(16, 1)); dr != nil {
		cond.Set("asserter", dr.ref())
	}

	if c.encounter != nil {
		d := obj("condition", e.ref())
		if t := s.get(6, 1, 1); t != "" {
			d.Set("use", obj("coding", []any{obj("system", sysV2+"0052", "code", t, "display", s.get(6, 1, 2))}))
		}
		if p := s.get(15, 1, 1); p != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n >= 1 {
				d.Set("rank", n)
			} else {
				c.warnf(s.at(15, 1, 0), p, "is not a diagnosis priority", "a whole number from 1")
			}
		}
		c.diagnoses = append(c.diagnoses, d)
	}
	return nil
}
