package hl7tofhir

import "strings"

// ROL -> PractitionerRole, placed as the IG's ADT_A01 map places it:
//
//   - after PID/PD1, ROL-3 PP (primary care provider, table 0443):
//     Patient.generalPractitioner (IG segment-rol-generalpractitioner-to-
//     patient); other patient-level roles are CareTeam candidates in the
//     IG ("implementation specific") and are listed in Ignored;
//   - after PV1/PV2: Encounter.participant (IG segment-rol-practitionerrole-
//     to-encounter), type ROL-3, period ROL-5/ROL-6, individual the
//     PractitionerRole;
//   - in PROCEDURE and INSURANCE groups (after PR1, IN1, ...) the IG maps
//     nothing: listed in Ignored.
//
// ROL-3 is mapped by the IG's ProviderRole map (table 0443: AD admitter,
// AT attender, CP consultant, RP referrer in v3 ParticipationType, PP and PI
// in SNOMED CT; other codes keep their v2 coding).
//
// The PractitionerRole: identifier ROL-1, practitioner ROL-4 (XCN), code
// ROL-3, period ROL-5/6, telecom ROL-12, location ROL-13, organization
// ROL-14; ROL-11 is the Practitioner's address. Keyed by ROL-1, else by
// practitioner, role and the patient or encounter.
func (c *conv) mapROL(s seg, _ *group) error {
	target := c.rolTarget(s)
	if target == nil {
		c.ignore(s)
		return nil
	}
	role := c.mapped(s.field(3, 1), providerRoleMap)
	code := strings.ToUpper(s.get(3, 1, 1))
	if target == c.patient && code != "PP" {
		c.ignore(s)
		return nil
	}
	start, err := c.dateTimeAt(s, 5, 1, 1)
	c.warnIf(err)
	end, err := c.dateTimeAt(s, 6, 1, 1)
	c.warnIf(err)
	period := obj("start", start, "end", end)
	added := false
	for r := 1; r <= max(s.reps(4), 1); r++ {
		pr := c.practitioner(s.field(4, r))
		if pr == nil {
			continue
		}
		if pr.res.Get("address") == nil {
			if a := address(s.field(11, 1)); a != nil {
				pr.res.Set("address", []any{a})
			}
		}
		e := c.practitionerRole(s, pr, role, period, target)
		added = true
		if target == c.patient {
			c.patient.res.Append("generalPractitioner", e.ref())
			continue
		}
		var types []any
		if role.Len() > 0 {
			types = []any{role}
		}
		target.res.Append("participant", obj("type", types, "period", period, "individual", e.ref()))
	}
	if !added {
		return fieldErr(s.at(4, 1, 0), "", "is empty", "the role person (XCN): it is the PractitionerRole's practitioner")
	}
	return nil
}

// rolTarget is the resource a ROL adds to by where it is: the Patient
// after PID/PD1, the Encounter after PV1/PV2, nil elsewhere. A run of ROL
// segments shares the decision of the first, kept as state, so each ROL
// looks back one segment only.
func (c *conv) rolTarget(s seg) *entry {
	const st = "~rol-target"
	if s.index == 0 {
		return nil
	}
	var t *entry
	switch c.segs[s.index-1].name {
	case "ROL":
		return c.state(st)
	case "PID", "PD1":
		t = c.patient
	case "PV1", "PV2":
		t = c.encounter
	case "ARV", "PRT":
		t = c.patient
		if c.encounter != nil && c.pv1.v != nil && s.index > c.pv1.index {
			t = c.encounter
		}
	}
	c.setState(st, t)
	return t
}

// practitionerRole makes the PractitionerRole of one ROL person.
func (c *conv) practitionerRole(s seg, pr *entry, role, period *Object, target *entry) *entry {
	id, idKey := c.entityIdentifier(s.field(1, 1), "")
	key := "rol|" + pr.id + "|" + keyPart(s.get(3, 1, 3)+"|"+s.get(3, 1, 1)) + "|" + target.id
	if idKey != "" {
		key = "rol-id|" + idKey + "|" + pr.id
	}
	e, isNew := c.entry("PractitionerRole", key)
	if !isNew {
		return e
	}
	r := e.res
	if id != nil {
		r.Set("identifier", []any{id})
	}
	r.Set("period", period)
	r.Set("practitioner", pr.ref())
	if org := c.organization(s.field(14, 1)); org != nil {
		r.Set("organization", org.ref())
	}
	if role.Len() > 0 {
		r.Set("code", []any{role})
	}
	if l := c.location(s.field(13, 1)); l != nil {
		r.Set("location", []any{l.ref()})
	}
	for i := 1; i <= s.reps(12); i++ {
		r.Append("telecom", contactPoint(s.field(12, i), "work"))
	}
	return e
}

// providerRoleMap is the IG's ProviderRole map (table 0443).
var providerRoleMap = map[string]code{
	"AD": {sysParticipation, "ADM", "admitter"}, "AT": {sysParticipation, "ATND", "attender"},
	"CP": {sysParticipation, "CON", "consultant"}, "RP": {sysParticipation, "REF", "referrer"},
	"PP": {"http://snomed.info/sct", "446050000", "Primary care physician"},
	"PI": {"http://snomed.info/sct", "40570005", "Interpreter"},
}
