package hl7tofhir

import "strings"

// ORM^O01, OML^O21 (and the COMMON_ORDER group of MDM): each ORC with its
// OBR is one ServiceRequest (IG ORM_O01 and OML_O21 message maps); TQ1 adds
// its timing (tq1.go), NTE its notes (nte.go), SPM a Specimen (spm.go), and
// the OBX of the order are standalone Observations the request lists in
// supportingInfo. An ORC whose detail is an RXO makes a MedicationRequest
// (rxo.go).

// mapGroupOBR maps an OBR by message type: a DiagnosticReport in ORU (obr.go),
// the ServiceRequest of its order in ORM, OML and MDM; elsewhere it is ignored.
func (c *conv) mapGroupOBR(s seg, g *group) error {
	if g.order != nil && g.order.x != nil {
		g.order.x.specimen = nil
	}
	switch c.msgType {
	case "ORU":
		var err error
		g.report, err = c.mapOBR(s, *g)
		return err
	case "ORM", "OML", "MDM":
		return c.mapRequestOBR(s, g)
	}
	c.ignore(s)
	return nil
}

// OBR -> ServiceRequest (IG segment-obr-to-servicerequest), merged into the
// ORC's ServiceRequest; an OBR with no ORC of its own (or a second OBR under
// one ORC) makes a ServiceRequest keyed by OBR-2, else OBR-3.
//
//   - identifier OBR-2 (PLAC) / OBR-3 (FILL) when the ORC has no ORC-2/ORC-3;
//   - timing OBR-27 (TQ, see applyTQ) when neither ORC-7 nor TQ1 gave one;
//   - code OBR-4; priority OBR-5 (unless TQ1-9 gave one: OBR-5 is kept in
//     v2.5 only for backward compatibility); occurrenceDateTime OBR-6
//     (unless a timing came first); intent reflex-order when OBR-11 is G;
//     requester OBR-16 when ORC-12 is empty; reasonCode OBR-31;
//     orderDetail OBR-46 and OBR-47.
func (c *conv) mapRequestOBR(s seg, g *group) error {
	x := g.ext()
	e, ownORC := x.req, true
	if e == nil || x.med || x.obrSeen {
		e, ownORC = c.obrRequest(s), false
		x.req, x.med = e, false
		if c.msgType == "MDM" {
			x.msg.related = append(x.msg.related, e.ref())
		}
	}
	x.obrSeen = true
	r := e.res
	c.addOBRNumbers(s, g.order, ownORC, r)
	code := c.codeableAt(s, 4, 1)
	if code.Len() == 0 {
		c.warn(fieldErr(s.at(4, 1, 0), "", "is empty", "the universal service identifier: it is ServiceRequest.code"))
	}
	r.Set("code", code)
	if pr := c.priority(s, 5, 1, 1); r.Get("priority") == nil {
		r.Set("priority", pr)
	}
	if strings.EqualFold(s.get(11, 1, 1), "G") {
		r.Set("intent", "reflex-order")
	}
	if !hasPrefix(r, "occurrence") && (g.order == nil || g.order.orc.v == nil || !g.order.orc.has(7, 1)) {
		c.applyTQ(x, s, 27)
	}
	if !hasPrefix(r, "occurrence") {
		when, err := c.dateTimeAt(s, 6, 1, 1)
		c.keep(err)
		r.Set("occurrenceDateTime", when)
	}
	if r.Get("requester") == nil {
		if p := c.practitioner(s.field(16, 1)); p != nil {
			r.Set("requester", p.ref())
		}
	}
	r.Set("reasonCode", c.codeables(s, 31))
	r.Set("orderDetail", append(c.codeables(s, 46), c.codeables(s, 47)...))
	return nil
}

// obrRequest makes the ServiceRequest of an OBR that has no ORC of its own.
func (c *conv) obrRequest(s seg) *entry {
	_, pk := c.entityIdentifier(s.field(2, 1), "")
	_, fk := c.entityIdentifier(s.field(3, 1), "")
	key := c.msgKey(s)
	switch {
	case pk != "":
		key = "placer|" + pk
	case fk != "":
		key = "filler|" + fk
	}
	e, _ := c.entry("ServiceRequest", key)
	e.res.Set("status", "unknown")
	e.res.Set("intent", "order")
	e.res.Set("subject", c.patient.ref())
	if c.encounter != nil {
		e.res.Set("encounter", c.encounter.ref())
	}
	return e
}

// addOBRNumbers adds OBR-2 and OBR-3 to the request's identifiers where the
// ORC that made the request (ownORC) has no placer or filler number.
func (c *conv) addOBRNumbers(s seg, o *order, ownORC bool, r *Object) {
	hasORC := ownORC && o != nil && o.orc.v != nil
	ids, _ := r.Get("identifier").([]any)
	for _, n := range []struct {
		field int
		typ   string
	}{{2, "PLAC"}, {3, "FILL"}} {
		if hasORC && o.orc.has(n.field, 1) {
			continue
		}
		if id, _ := c.entityIdentifier(s.field(n.field, 1), n.typ); id != nil {
			ids = append(ids, id)
		}
	}
	r.Set("identifier", ids)
}

// codeables maps each repetition of a CWE field to a CodeableConcept.
func (c *conv) codeables(s seg, field int) []any {
	var out []any
	for r := 1; r <= s.reps(field); r++ {
		if cc := c.codeableAt(s, field, r); cc.Len() > 0 {
			out = append(out, cc)
		}
	}
	return out
}

// mapGroupOBX maps an OBX by message type: in MDM it is document content,
// read with its TXA (mdm.go); elsewhere an Observation (obx.go), which an
// order's request lists as supporting information and which names the
// Specimen of the SPM it follows.
func (c *conv) mapGroupOBX(s seg, g group) (*entry, error) {
	if c.msgType == "MDM" {
		if x := g.order; x == nil || x.x == nil || x.x.msg.doc == nil || s.index >= x.x.msg.docEnd {
			c.ignore(s)
		}
		return nil, nil
	}
	e, err := c.mapOBX(s, g)
	if e == nil || g.order == nil || g.order.x == nil {
		return e, err
	}
	x := g.order.x
	switch {
	case x.specimen != nil:
		e.res.Set("specimen", x.specimen.ref())
	case x.req != nil && x.med:
		x.req.res.Append("supportingInformation", e.ref())
	case x.req != nil:
		x.req.res.Append("supportingInfo", e.ref())
	}
	return e, err
}

// mapGroupRXR maps an RXR to the route of the group's MedicationRequest
// (rxe.go), or of its Immunization (rxa.go).
func (c *conv) mapGroupRXR(s seg, g group) error {
	if g.imm == nil && g.order != nil && g.order.x != nil && g.order.x.med && g.order.x.req != nil {
		return c.mapMedicationRXR(s, g.order.x)
	}
	return c.mapRXR(s, g)
}
