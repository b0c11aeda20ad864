package hl7tofhir

import (
	"encoding/json"
	"strconv"
	"strings"
)

// RDE^O11: ORC + RXE (+ RXR, RXC, TQ1) -> MedicationRequest with a
// Medication. The IG publishes no RXE map; the RXE fields are mapped as
// their RXO counterparts are (segment-rxo-to-medicationrequest), RXE being
// the pharmacy's encoding of the same order:
//
//   - medicationReference: a Medication (one per order, keyed by the
//     request) with code RXE-2, form RXE-6 and ingredients from RXC;
//   - dosageInstruction[0]: doseAndRate (type ordered) doseQuantity RXE-3,
//     or doseRange RXE-3..RXE-4, units RXE-5; rateQuantity RXE-23/RXE-24;
//     additionalInstruction RXE-7; maxDosePerPeriod RXE-19 per day; timing
//     RXE-1 (TQ), replaced by a TQ1 after it (tq1.go); route, site, method
//     RXR-1, -2, -4;
//   - substitution.allowedCodeableConcept RXE-9 (table 0167);
//     dispenseRequest.quantity RXE-10/RXE-11; numberOfRepeatsAllowed RXE-12;
//     requester RXE-13 when ORC-12 is empty; reasonCode RXE-27.
//
// An RXE with no ORC above it makes a MedicationRequest of its own.
func (c *conv) mapRXE(s seg, g *group) error {
	if c.msgType != "RDE" {
		c.ignore(s)
		return nil
	}
	x := c.medicationRequest(s, g)
	r := x.req.res
	med := c.medicationOf(x)
	if code := c.codeableAt(s, 2, 1); code.Len() > 0 {
		med.res.Set("code", code)
	} else {
		c.warn(fieldErr(s.at(2, 1, 0), "", "is empty", "the give code: it is the Medication's code"))
	}
	med.res.Set("form", c.codeableAt(s, 6, 1))
	c.orderedDose(x, s, 3, 4, 5)
	c.applyTQ(x, s, 1)
	if rate := c.numberField(s, 23); rate != "" {
		c.doseAndRate(x).Set("rateQuantity", unitQuantity(rate, s.get(24, 1, 1), s.get(24, 1, 2), c.codeSystem(s.get(24, 1, 3))))
	}
	d := c.dosage(x)
	d.Set("additionalInstruction", c.codeables(s, 7))
	if q := c.cq(s, 19, 1); q != nil {
		d.Set("maxDosePerPeriod", obj("numerator", q, "denominator", obj("value", 1, "unit", "day", "system", sysUCUM, "code", "d")))
	}
	c.syncDosage(x)
	c.substitution(r, s, 9, "0167")
	c.dispense(r, s, 10, 11, 12)
	if r.Get("requester") == nil {
		if p := c.practitioner(s.field(13, 1)); p != nil {
			r.Set("requester", p.ref())
		}
	}
	r.Set("reasonCode", c.codeables(s, 27))
	return nil
}

// medicationRequest returns the group's MedicationRequest, making one keyed
// by the segment when the group has none (an RXE or RXO with no ORC).
func (c *conv) medicationRequest(s seg, g *group) *orderExt {
	x := g.ext()
	if x.req != nil && x.med {
		return x
	}
	e, _ := c.entry("MedicationRequest", c.msgKey(s))
	e.res.Set("status", "unknown").Set("intent", "order").Set("subject", c.patient.ref())
	if c.encounter != nil {
		e.res.Set("encounter", c.encounter.ref())
	}
	x.req, x.med, x.medication, x.dosage = e, true, nil, nil
	return x
}

// medicationOf returns the request's Medication, made on first use and
// referenced from medicationReference (placed after status and intent).
func (c *conv) medicationOf(x *orderExt) *entry {
	if x.medication == nil {
		x.medication, _ = c.entry("Medication", "medication|"+x.req.key)
		x.req.res.Set("medicationReference", x.medication.ref())
	}
	return x.medication
}

// dosage returns the request's dosageInstruction[0] (set with syncDosage).
func (c *conv) dosage(x *orderExt) *Object {
	if x.dosage == nil {
		x.dosage = obj()
	}
	return x.dosage
}

// syncDosage stores the dosage in the request once it has content.
func (c *conv) syncDosage(x *orderExt) {
	if x.dosage.Len() > 0 {
		x.req.res.Set("dosageInstruction", []any{x.dosage})
	}
}

// doseAndRate returns the dosage's doseAndRate[0], typed "ordered".
func (c *conv) doseAndRate(x *orderExt) *Object {
	d := c.dosage(x)
	if l, ok := d.Get("doseAndRate").([]any); ok {
		return l[0].(*Object)
	}
	dr := obj("type", obj("coding", []any{obj("system", "http://terminology.hl7.org/CodeSystem/dose-rate-type", "code", "ordered", "display", "Ordered")}))
	d.Set("doseAndRate", []any{dr})
	return dr
}

// orderedDose sets the ordered dose from a minimum, maximum and units field (RXE-3,
// -4, -5; RXO-2, -3, -4): a doseQuantity, or a doseRange with a maximum.
func (c *conv) orderedDose(x *orderExt, s seg, minF, maxF, unitsF int) {
	lo, hi := c.numberField(s, minF), c.numberField(s, maxF)
	if lo == "" && hi == "" {
		return
	}
	code, text, sys := s.get(unitsF, 1, 1), s.get(unitsF, 1, 2), c.codeSystem(s.get(unitsF, 1, 3))
	dr := c.doseAndRate(x)
	dr.drop("doseQuantity")
	dr.drop("doseRange")
	if hi == "" {
		dr.Set("doseQuantity", unitQuantity(lo, code, text, sys))
	} else {
		low := (*Object)(nil)
		if lo != "" {
			low = unitQuantity(lo, code, text, sys)
		}
		dr.Set("doseRange", obj("low", low, "high", unitQuantity(hi, code, text, sys)))
	}
	c.syncDosage(x)
}

// substitution sets substitution.allowedCodeableConcept from a table 0161
// (RXO-9) or 0167 (RXE-9) code.
func (c *conv) substitution(r *Object, s seg, field int, table string) {
	if v := s.get(field, 1, 1); v != "" {
		r.Set("substitution", obj("allowedCodeableConcept", obj("coding", []any{obj("system", sysV2+table, "code", v)})))
	}
}

// dispense sets dispenseRequest: quantity (amount and units fields) and
// numberOfRepeatsAllowed (refills field).
func (c *conv) dispense(r *Object, s seg, amountF, unitsF, refillsF int) {
	dr := obj()
	if n := c.numberField(s, amountF); n != "" {
		dr.Set("quantity", unitQuantity(n, s.get(unitsF, 1, 1), s.get(unitsF, 1, 2), c.codeSystem(s.get(unitsF, 1, 3))))
	}
	if v := s.get(refillsF, 1, 1); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			dr.Set("numberOfRepeatsAllowed", n)
		} else {
			c.warn(fieldErr(s.at(refillsF, 1, 0), v, "is not a number of refills", "a whole number, 0 or more"))
		}
	}
	r.Set("dispenseRequest", dr)
}

// numberField reads an NM field, warning and returning "" when it is not one.
func (c *conv) numberField(s seg, field int) json.Number {
	n, err := numberAt(s, field, 1, 1)
	c.keep(err)
	return n
}

// RXC -> Medication.ingredient of the group's MedicationRequest: item RXC-2,
// strength RXC-3 with units RXC-4 (per one unit of the medication), isActive
// false for an additive (RXC-1 A) and true for the base (B).
func (c *conv) mapRXC(s seg, g *group) error {
	if g.order == nil || g.order.x == nil || !g.order.x.med || g.order.x.req == nil {
		c.ignore(s)
		return nil
	}
	med := c.medicationOf(g.order.x)
	item := c.codeableAt(s, 2, 1)
	if item.Len() == 0 {
		c.warn(fieldErr(s.at(2, 1, 0), "", "is empty", "the component code: it is the ingredient's item"))
		return nil
	}
	ing := obj("itemCodeableConcept", item)
	switch strings.ToUpper(s.get(1, 1, 1)) {
	case "B":
		ing.Set("isActive", true)
	case "A":
		ing.Set("isActive", false)
	}
	if n := c.numberField(s, 3); n != "" {
		q := unitQuantity(n, s.get(4, 1, 1), s.get(4, 1, 2), c.codeSystem(s.get(4, 1, 3)))
		ing.Set("strength", obj("numerator", q, "denominator", obj("value", 1)))
	}
	med.res.Append("ingredient", ing)
	return nil
}

// RXR -> dosageInstruction route RXR-1, site RXR-2, method RXR-4 (IG
// segment-rxr-to-medicationrequest).
func (c *conv) mapMedicationRXR(s seg, x *orderExt) error {
	d := c.dosage(x)
	d.Set("route", c.codeableAt(s, 1, 1))
	d.Set("site", c.codeableAt(s, 2, 1))
	d.Set("method", c.codeableAt(s, 4, 1))
	c.syncDosage(x)
	return nil
}

// drop removes member k, if o has it (a choice element set again as another
// type, as RXE's dose replaces RXO's).
func (o *Object) drop(k string) {
	for i := range o.members {
		if o.members[i].key == k {
			o.members = append(o.members[:i], o.members[i+1:]...)
			return
		}
	}
}
