package hl7tofhir

import (
	"strconv"
	"strings"
)

// GT1 -> Account.guarantor. The IG maps no GT1 field (its ADT_A01 map lists
// GT1 with no target); the guarantor is the party of an Account.guarantor
// (R4: Patient, RelatedPerson or Organization):
//
//   - the Patient when GT1-11 relationship is SEL (self);
//   - an Organization from GT1-21 when the guarantor is an organisation
//     (GT1-3 name empty);
//   - else a RelatedPerson keyed by patient and GT1-2 guarantor number (or
//     GT1-1 set ID): identifier GT1-2, name GT1-3, address GT1-5, telecom
//     GT1-6 home and GT1-7 business, birthDate GT1-8, gender GT1-9,
//     relationship GT1-11 (tables 0063 as NK1), period GT1-13/GT1-14.
//
// The guarantor entry has onHold GT1-22 (billing hold flag) and period
// GT1-13/GT1-14. With no Account (no PID-18, outside BAR) only the
// RelatedPerson is made.
func (c *conv) mapGT1(s seg, _ *group) error {
	start, err := c.dateAt(s, 13, 1, 1)
	c.warnIf(err)
	end, err := c.dateAt(s, 14, 1, 1)
	c.warnIf(err)
	period := obj("start", start, "end", end)
	var party *entry
	switch {
	case strings.EqualFold(s.get(11, 1, 1), "SEL"):
		party = c.patient
	case !s.has(3, 0) && s.has(21, 0):
		party = c.organization(s.field(21, 1))
	default:
		party = c.guarantorPerson(s, period)
	}
	if party == nil {
		return fieldErr(s.at(3, 1, 0), "", "is empty", "the guarantor's name (GT1-3) or organisation (GT1-21)")
	}
	acct := c.account()
	if acct == nil {
		return nil
	}
	g := obj("party", party.ref())
	if hold, ok, err := yesNo(s, 22); err != nil {
		c.warn(err)
	} else if ok {
		g.Set("onHold", hold)
	}
	g.Set("period", period)
	acct.res.Append("guarantor", g)
	return nil
}

// guarantorPerson is the RelatedPerson a person guarantor is.
func (c *conv) guarantorPerson(s seg, period *Object) *entry {
	names := make([]any, 0, 1)
	for r := 1; r <= s.reps(3); r++ {
		if n := humanName(s.field(3, r), 1); n != nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	num := s.get(2, 1, 1)
	if num == "" {
		num = "set|" + firstNonEmpty(s.get(1, 1, 1), strconv.Itoa(s.occ))
	}
	e, _ := c.entry("RelatedPerson", c.patient.id+"|GT1|"+keyPart(num))
	rp := e.res
	for r := 1; r <= s.reps(2); r++ {
		id, _, err := c.identifier(s.field(2, r))
		c.warnIf(err)
		rp.Append("identifier", id)
	}
	rp.Set("patient", c.patient.ref())
	if rel := c.mapped(s.field(11, 1), relationshipMap); rel.Len() > 0 {
		rp.Set("relationship", []any{rel})
	}
	rp.Set("name", names)
	for _, t := range []struct {
		field int
		use   string
	}{{6, "home"}, {7, "work"}} {
		for r := 1; r <= s.reps(t.field); r++ {
			rp.Append("telecom", contactPoint(s.field(t.field, r), t.use))
		}
	}
	g, err := c.gender(s, 9)
	c.warnIf(err)
	rp.Set("gender", g)
	if birth, err := c.timeAt(s, 8, 1, 1, false); err != nil {
		c.warn(err)
	} else if birth.prec > 0 {
		rp.Set("birthDate", birth.date())
	}
	for r := 1; r <= s.reps(5); r++ {
		rp.Append("address", address(s.field(5, r)))
	}
	rp.Set("period", period)
	return e
}
