package hl7tofhir

import (
	"encoding/json"
	"strings"
)

// ORC/RXA/RXR (VXU^V04) -> Immunization (IG segment-rxa-to-immunization,
// segment-orc-to-immunization, segment-rxr-to-immunization).
//
//   - identifier ORC-2 (PLAC), ORC-3 (FILL); the filler number (else the
//     placer's) keys the Immunization;
//   - status: RXA-21 "D" -> entered-in-error, else RXA-20 via table 0322
//     (CP, PA completed; RE, NA not-done; empty completed); PA also sets
//     isSubpotent; statusReason RXA-18;
//   - vaccineCode RXA-5, occurrenceDateTime RXA-3 (both required: an RXA
//     without them is not converted, a warning; an empty RXA-3 is read from
//     RXA-4, with a warning); an RXA-20 outside table 0322 is read as
//     complete, with a warning;
//     recorded RXA-22, primarySource/reportOrigin from RXA-9 (NIP001: 00
//     is a new record from the source, 01-08 historical);
//   - doseQuantity RXA-6 (999 means unknown) with RXA-7 units, lotNumber
//     RXA-15, expirationDate RXA-16, manufacturer RXA-17 -> Organization;
//   - performer RXA-10 (function AP) and ORC-12 (function OP) ->
//     Practitioner; reasonCode RXA-19; route RXR-1, site RXR-2.
func (c *conv) mapRXA(s seg, g group) (*entry, error) {
	vaccine := c.codeableAt(s, 5, 1)
	if vaccine.Len() == 0 {
		return nil, fieldErr(s.at(5, 1, 0), "", "is empty: the RXA is not converted", "the administered code: it is Immunization.vaccineCode")
	}
	when := c.dateTimeOrWarn(s, 3, 1, 1)
	if when == "" {
		if when = c.dateTimeOrWarn(s, 4, 1, 1); when != "" {
			c.warnf(s.at(3, 1, 0), s.get(3, 1, 1), "gives no date: the occurrence is RXA-4 (end of administration)", "the date/time the administration started: it is Immunization.occurrence")
		}
	}
	if when == "" {
		return nil, fieldErr(s.at(3, 1, 0), s.get(3, 1, 1), "gives no occurrence: the RXA is not converted", "the date/time the administration started: it is Immunization.occurrence")
	}
	var placer, filler orderID
	if g.order != nil {
		placer, filler = g.order.placerID(c), g.order.fillerID(c)
	}
	key := c.msgKey(s)
	switch {
	case filler.key != "":
		key = "filler|" + filler.key
	case placer.key != "":
		key = "placer|" + placer.key
	}
	e, isNew := c.entry("Immunization", key)
	im := e.res

	completion := strings.ToUpper(s.get(20, 1, 1))
	status := "completed"
	if completion != "" {
		var ok bool
		if status, ok = completionStatusMap[completion]; !ok {
			status = "completed"
			c.warnf(s.at(20, 1, 0), completion, "is not a completion status: read as complete", "HL7 table 0322: CP, RE, NA, PA")
		}
	}
	if strings.EqualFold(s.get(21, 1, 1), "D") {
		status = "entered-in-error"
	}
	var ids []any
	for _, id := range []*Object{placer.id, filler.id} {
		if id != nil {
			ids = append(ids, id)
		}
	}
	im.Set("identifier", ids)
	im.Set("status", status)
	if status == "not-done" {
		im.Set("statusReason", c.codeableAt(s, 18, 1))
	}
	im.Set("vaccineCode", vaccine)
	im.Set("patient", c.patient.ref())
	if c.encounter != nil {
		im.Set("encounter", c.encounter.ref())
	}
	im.Set("occurrenceDateTime", when)
	im.Set("recorded", c.dateTimeOrWarn(s, 22, 1, 1))
	switch source := s.get(9, 1, 1); {
	case source == "00":
		im.Set("primarySource", true)
	case source != "":
		im.Set("primarySource", false)
		im.Set("reportOrigin", c.codeableAt(s, 9, 1))
	}
	if mfr := c.manufacturer(s); mfr != nil {
		im.Set("manufacturer", mfr.ref())
	}
	im.Set("lotNumber", s.get(15, 1, 1))
	if exp := c.timeOrWarn(s, 16, 1, 1, false); exp.prec > 0 {
		im.Set("expirationDate", exp.date())
	}
	c.administration(im, s, g.order)
	if o := g.order; o != nil && isNew {
		if err := c.charge(o, placer.size+filler.size+o.providersSize); err != nil {
			return nil, err
		}
	}
	if completion == "PA" {
		im.Set("isSubpotent", true)
	}
	return e, nil
}

// administration sets the dose (RXA-6, RXA-7), the performers (RXA-10,
// function AP, and the order's ORC-12, function OP, read once per ORC) and
// the reasons (RXA-19) of an Immunization.
func (c *conv) administration(im *Object, s seg, o *order) {
	if amount := s.get(6, 1, 1); amount != "" && amount != "999" {
		if v := c.numberOrWarn(s, 6, 1, 1); v != "" {
			c.dose(im, s, v)
		}
	}
	var performers []any
	for r := 1; r <= s.reps(10); r++ {
		if p := c.practitioner(s.field(10, r)); p != nil {
			performers = append(performers, performer("AP", "Administering Provider", p))
		}
	}
	if o != nil {
		performers = append(performers, o.orderingProviders(c)...)
	}
	im.Set("performer", performers)
	var reasons []any
	for r := 1; r <= s.reps(19); r++ {
		if rc := c.codeableAt(s, 19, r); rc.Len() > 0 {
			reasons = append(reasons, rc)
		}
	}
	im.Set("reasonCode", reasons)
}

// dose sets doseQuantity from amount v (RXA-6) and units RXA-7.
func (c *conv) dose(im *Object, s seg, v json.Number) {
	q := obj("value", v, "unit", firstNonEmpty(s.get(7, 1, 2), s.get(7, 1, 1)))
	if c.codeSystem(s.get(7, 1, 3)) == sysUCUM {
		q.Set("system", sysUCUM).Set("code", s.get(7, 1, 1))
	}
	im.Set("doseQuantity", q)
}

func performer(code, display string, p *entry) *Object {
	return obj(
		"function", obj("coding", []any{obj("system", sysV2+"0443", "code", code, "display", display)}),
		"actor", p.ref())
}

// manufacturer maps RXA-17 (an MVX code) to an Organization.
func (c *conv) manufacturer(s seg) *entry {
	code, name := s.get(17, 1, 1), s.get(17, 1, 2)
	if code == "" && name == "" {
		return nil
	}
	sys := c.codeSystem(s.get(17, 1, 3))
	e, isNew := c.entry("Organization", "manufacturer|"+sys+"|"+code+"|"+name)
	if isNew {
		if code != "" {
			e.res.Set("identifier", []any{obj("system", sys, "value", code)})
		}
		e.res.Set("name", name)
	}
	return e
}

// mapRXR sets the route (RXR-1) and site (RXR-2) of the current Immunization.
func (c *conv) mapRXR(s seg, g group) error {
	if g.imm == nil {
		c.ignore(s)
		return nil
	}
	if r := c.codeableAt(s, 1, 1); r.Len() > 0 {
		g.imm.res.Set("route", r)
	}
	if st := c.codeableAt(s, 2, 1); st.Len() > 0 {
		g.imm.res.Set("site", st)
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
