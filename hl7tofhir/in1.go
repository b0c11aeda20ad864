package hl7tofhir

import (
	"strconv"
	"strings"
)

// IN1 -> Coverage (IG segment-in1-to-coverage).
//
//   - identifier IN1-2 health plan ID (CWE: code as value, coding system
//     as system); type IN1-15 plan type; period IN1-12, IN1-13;
//   - payor IN1-4 insurance company (XON -> Organization, identified by
//     IN1-3 company ID when sent, else by the XON's ID; IN1-5 address);
//     R4 requires a payor, so an IN1 with neither IN1-3 nor IN1-4 is a
//     warning and no Coverage;
//   - policyHolder IN1-11 insured's group employer (Organization);
//   - subscriber: the Patient when IN1-17 is SEL (self), else a
//     RelatedPerson from IN1-16 name, IN1-18 birth date, IN1-19 address,
//     IN1-43 sex and IN1-17 relationship; relationship IN1-17 mapped to
//     subscriber-relationship;
//   - beneficiary the Patient; status active (R4 requires one; v2 has none).
//
// Departures: IN1-49 insured's ID (the IG's R5 subscriberId extension) is
// R4's subscriberId string, else IN1-36 policy number; IN1-22 coordination
// of benefits priority is Coverage.order and the Account's coverage
// priority; IN1-8/IN1-9 group number and name are a "group" class. Keyed by
// patient, insurer, plan and policy, so a later message updates it.
func (c *conv) mapIN1(s seg, _ *group) error {
	c.setState(stCoverage, nil)
	payor := c.insurer(s)
	if payor == nil {
		return fieldErr(s.at(4, 1, 0), "", "is empty", "the insurance company (IN1-4, or its ID in IN1-3): it is Coverage.payor, which R4 requires")
	}
	plan := s.field(2, 1)
	subscriberID := firstNonEmpty(s.get(49, 1, 1), s.get(36, 1, 1))
	key := c.patient.id + "|" + payor.id + "|" + keyPart(plan.c(1)+"|"+plan.c(3)+"|"+subscriberID)
	e, _ := c.entry("Coverage", key)
	c.setState(stCoverage, e)
	cov := e.res
	if v := plan.c(1); v != "" {
		cov.Set("identifier", []any{obj("system", c.codeSystem(plan.c(3)), "value", v)})
	}
	cov.Set("status", "active")
	cov.Set("type", c.codeableAt(s, 15, 1))
	if org := c.organization(s.field(11, 1)); org != nil {
		cov.Set("policyHolder", org.ref())
	}
	c.subscriber(s, cov)
	cov.Set("subscriberId", subscriberID)
	cov.Set("beneficiary", c.patient.ref())
	start, err := c.dateAt(s, 12, 1, 1)
	c.warnIf(err)
	end, err := c.dateAt(s, 13, 1, 1)
	c.warnIf(err)
	cov.Set("period", obj("start", start, "end", end))
	cov.Set("payor", []any{payor.ref()})
	order := 0
	if v := s.get(22, 1, 1); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			order = n
			cov.Set("order", n)
		} else {
			c.warn(fieldErr(s.at(22, 1, 0), v, "is not a coordination of benefits priority", "a whole number from 1"))
		}
	}
	if g := s.get(8, 1, 1); g != "" {
		cov.Set("class", []any{obj("type", obj("coding", []any{obj("system", sysCoverageClass, "code", "group")}),
			"value", g, "name", s.get(9, 1, 1))})
	}
	if acct := c.account(); acct != nil {
		ac := obj("coverage", e.ref())
		if order > 0 {
			ac.Set("priority", order)
		}
		acct.res.Append("coverage", ac)
	}
	return nil
}

const (
	sysCoverageClass    = "http://terminology.hl7.org/CodeSystem/coverage-class"
	sysSubscriberRelate = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
)

// subscriberRelationship is table 0063 -> subscriber-relationship.
var subscriberRelationship = map[string]string{
	"SEL": "self", "SPO": "spouse", "DOM": "common", "CHD": "child", "NCH": "child", "SCH": "child",
	"FCH": "child", "GCH": "other", "PAR": "parent", "MTH": "parent", "FTH": "parent", "OTH": "other",
}

// warnIf keeps a non-nil error as a warning.
func (c *conv) warnIf(err error) {
	if err != nil {
		c.warn(err)
	}
}

// insurer is Coverage.payor: the IN1-4 insurance company (XON), identified
// by IN1-3 (CX, with its assigning authority) when sent, else by its XON ID;
// IN1-5 is its address.
func (c *conv) insurer(s seg) *entry {
	xon := s.field(4, 1)
	var e *entry
	id, ident, err := c.identifier(s.field(3, 1))
	c.warnIf(err)
	if id != nil {
		var isNew bool
		e, isNew = c.entry("Organization", keyPart(ident.System+"|"+ident.Value))
		if isNew {
			e.res.Set("identifier", []any{id})
			e.res.Set("name", xon.c(1))
		}
	} else {
		e = c.organization(xon)
	}
	if e != nil && e.res.Get("address") == nil {
		if a := address(s.field(5, 1)); a != nil {
			e.res.Set("address", []any{a})
		}
	}
	return e
}

// subscriber sets Coverage.subscriber and relationship from IN1-16/17.
func (c *conv) subscriber(s seg, cov *Object) {
	rel := strings.ToUpper(s.get(17, 1, 1))
	if rel != "" {
		if to, ok := subscriberRelationship[rel]; ok {
			cov.Set("relationship", obj("coding", []any{obj("system", sysSubscriberRelate, "code", to)}, "text", s.get(17, 1, 2)))
		} else {
			cov.Set("relationship", c.codeableAt(s, 17, 1))
		}
	}
	if rel == "SEL" {
		cov.Set("subscriber", c.patient.ref())
		return
	}
	name := humanName(s.field(16, 1), 1)
	if name == nil {
		return
	}
	e, _ := c.entry("RelatedPerson", c.patient.id+"|IN1-16|"+keyPart(s.raw(16, 0)+"|"+s.get(18, 1, 1)))
	rp := e.res
	rp.Set("patient", c.patient.ref())
	if r := c.mapped(s.field(17, 1), relationshipMap); r.Len() > 0 {
		rp.Set("relationship", []any{r})
	}
	rp.Set("name", []any{name})
	g, err := c.gender(s, 43)
	c.warnIf(err)
	rp.Set("gender", g)
	if birth, err := c.timeAt(s, 18, 1, 1, false); err != nil {
		c.warn(err)
	} else if birth.prec > 0 {
		rp.Set("birthDate", birth.date())
	}
	if a := address(s.field(19, 1)); a != nil {
		rp.Set("address", []any{a})
	}
	cov.Set("subscriber", e.ref())
}

// IN2 -> the Coverage of the IN1 before it. The IG maps no IN2 field; its
// member numbers are Coverage identifiers: IN2-61 patient member number
// (type MB), IN2-6 Medicare HIC number (MC), IN2-8 Medicaid case number
// (MA). An IN2 with no Coverage before it is listed in Ignored.
func (c *conv) mapIN2(s seg, _ *group) error {
	cov := c.state(stCoverage)
	if cov == nil {
		c.ignore(s)
		return nil
	}
	for r := 1; r <= s.reps(61); r++ {
		id, _, err := c.identifier(s.field(61, r))
		c.warnIf(err)
		if id != nil && id.Get("type") == nil {
			id = obj("type", typeCoding("MB"), "system", id.Get("system"), "value", id.Get("value"), "period", id.Get("period"), "assigner", id.Get("assigner"))
		}
		cov.res.Append("identifier", id)
	}
	for _, f := range []struct {
		field int
		typ   string
	}{{6, "MC"}, {8, "MA"}} {
		if v := s.get(f.field, 1, 1); v != "" {
			cov.res.Append("identifier", obj("type", typeCoding(f.typ), "value", v))
		}
	}
	return nil
}
