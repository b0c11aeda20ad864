package hl7tofhir

import "strconv"

// NK1 -> RelatedPerson (IG segment-nk1-to-relatedperson). RelatedPerson
// rather than Patient.contact: it is a resource of its own that other
// resources (consents, appointments) can refer to, and the IG maps NK1-33
// identifiers to it. Keyed by patient and NK1-1 set ID.
//
//   - relationship: NK1-3 via tables 0063 (v3 RoleCode), NK1-7 contact role
//     via table 0131;
//   - name NK1-2, address NK1-4, telecom NK1-5 (home) and NK1-6 (work),
//     period NK1-8/NK1-9, gender NK1-15, birthDate NK1-16, communication
//     NK1-20, identifier NK1-33. A value that does not fit its type is a
//     warning and is left out; the rest of the NK1 converts.
func (c *conv) mapNK1(s seg) error {
	setID := s.get(1, 1, 1)
	if setID == "" {
		setID = strconv.Itoa(s.occ)
	}
	e, _ := c.entry("RelatedPerson", c.patient.id+"|NK1|"+setID)
	rp := e.res

	var identifiers []any
	for r := 1; r <= s.reps(33); r++ {
		if id, _, _ := c.identifier(s.field(33, r)); id != nil {
			identifiers = append(identifiers, id)
		}
	}
	rp.Set("identifier", identifiers)
	rp.Set("patient", c.patient.ref())
	var rel []any
	if r := c.mapped(s.field(3, 1), relationshipMap); r.Len() > 0 {
		rel = append(rel, r)
	}
	for r := 1; r <= s.reps(7); r++ {
		if role := c.mapped(s.field(7, r), contactRoleMap); role.Len() > 0 {
			rel = append(rel, role)
		}
	}
	rp.Set("relationship", rel)
	var names, telecom, addresses []any
	for r := 1; r <= s.reps(2); r++ {
		if n := humanName(s.field(2, r), 1); n != nil {
			names = append(names, n)
		}
	}
	rp.Set("name", names)
	for _, t := range []struct {
		field int
		use   string
	}{{5, "home"}, {6, "work"}} {
		for r := 1; r <= s.reps(t.field); r++ {
			if cp := contactPoint(s.field(t.field, r), t.use); cp != nil {
				telecom = append(telecom, cp)
			}
		}
	}
	rp.Set("telecom", telecom)
	rp.Set("gender", c.genderOrWarn(s, 15))
	if birth := c.timeOrWarn(s, 16, 1, 1, false); birth.prec > 0 {
		rp.Set("birthDate", birth.date())
	}
	for r := 1; r <= s.reps(4); r++ {
		if a := address(s.field(4, r)); a != nil {
			addresses = append(addresses, a)
		}
	}
	rp.Set("address", addresses)
	rp.Set("period", obj("start", c.dateTimeOrWarn(s, 8, 1, 1), "end", c.dateTimeOrWarn(s, 9, 1, 1)))
	if lang := c.language(s.field(20, 1)); lang.Len() > 0 {
		rp.Set("communication", []any{obj("language", lang, "preferred", true)})
	}
	return nil
}
