package hl7tofhir

// RXO -> MedicationRequest (IG segment-rxo-to-medicationrequest): the order
// detail of a pharmacy ORC in ORM^O01 and RDE^O11 (where RXE, which follows,
// encodes the same order and takes precedence).
//
//   - intent original-order (in ORM; RDE keeps the RXE's order);
//   - medicationReference: Medication code RXO-1, form RXO-5;
//   - dosageInstruction[0].doseAndRate doseQuantity RXO-2, or doseRange
//     RXO-2..RXO-3, units RXO-4;
//   - substitution RXO-9 (table 0161); dispenseRequest quantity RXO-11/12,
//     numberOfRepeatsAllowed RXO-13; requester RXO-14 when ORC-12 is empty.
//
// Not mapped: RXO-18/19 and RXO-25/26 (strength: a Medication.ingredient
// needs an item the RXO does not name).
func (c *conv) mapRXO(s seg, g *group) error {
	if c.msgType != "ORM" && c.msgType != "RDE" {
		c.ignore(s)
		return nil
	}
	x := c.medicationRequest(s, g)
	r := x.req.res
	if c.msgType == "ORM" {
		r.Set("intent", "original-order")
	}
	med := c.medicationOf(x)
	if code := c.codeableAt(s, 1, 1); code.Len() > 0 {
		med.res.Set("code", code)
	}
	med.res.Set("form", c.codeableAt(s, 5, 1))
	c.orderedDose(x, s, 2, 3, 4)
	c.substitution(r, s, 9, "0161")
	c.dispense(r, s, 11, 12, 13)
	if r.Get("requester") == nil {
		if p := c.practitioner(s.field(14, 1)); p != nil {
			r.Set("requester", p.ref())
		}
	}
	return nil
}
