package hl7tofhir

import "strings"

// ARV -> meta.security of the resource it follows (IG segment ARV map):
// after PID/PD1 the Patient, after PV1/PV2 the Encounter, as the IG's
// ADT_A01 map places it. An ARV before PID (message level) has no target
// in the IG and is listed in Ignored.
//
//   - security codings: ARV-3 access restriction value, ARV-4 reasons,
//     ARV-5 special instructions (display only), ARV-7 security
//     classification (table 0952, the v3 Confidentiality codes), ARV-8
//     handling instructions; ARV-10 instance identifier is a meta.tag;
//   - ARV-2 action code D (delete) removes the restriction: nothing is
//     added, and the resource, PUT whole, is stored without it.
//
// ARV-6 date range (an extension on the tag in the IG) and ARV-9 (the
// message location the restriction applies to) are left out.
func (c *conv) mapARV(s seg, _ *group) error {
	var target *entry
	switch {
	case c.pid.v == nil || s.index < c.pid.index:
		c.ignore(s)
		return nil
	case c.encounter != nil && c.pv1.v != nil && s.index > c.pv1.index:
		target = c.encounter
	default:
		target = c.patient
	}
	if strings.EqualFold(s.get(2, 1, 1), "D") {
		return nil
	}
	var security []any
	add := func(co *Object) {
		if co.Len() > 0 {
			security = append(security, co)
		}
	}
	add(c.codingOf(s.field(3, 1)))
	for r := 1; r <= s.reps(4); r++ {
		add(c.codingOf(s.field(4, r)))
	}
	for r := 1; r <= s.reps(5); r++ {
		add(obj("display", s.get(5, r, 1)))
	}
	add(c.confidentiality(s.field(7, 1)))
	for r := 1; r <= s.reps(8); r++ {
		add(c.codingOf(s.field(8, r)))
	}
	meta, _ := target.res.Get("meta").(*Object)
	if meta == nil {
		meta = newObject()
	}
	for _, co := range security {
		meta.Append("security", co)
	}
	if v := s.get(10, 1, 1); v != "" {
		meta.Append("tag", obj("system", c.system(s.get(10, 1, 2), s.get(10, 1, 3), s.get(10, 1, 4), ""), "code", v))
	}
	target.res.Set("meta", meta)
	return nil
}

const sysConfidentialityARV = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

// confidentiality maps ARV-7: a v3 Confidentiality code (U, L, M, N, R, V)
// sent without a coding system gets that system.
func (c *conv) confidentiality(f field) *Object {
	co := c.codingOf(f)
	if co == nil || co.Get("system") != nil {
		return co
	}
	switch code, _ := co.Get("code").(string); code {
	case "U", "L", "M", "N", "R", "V":
		return obj("system", sysConfidentialityARV, "code", code, "display", co.Get("display"))
	}
	return co
}
