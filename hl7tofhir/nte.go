package hl7tofhir

// NTE -> note (IG segment-nte-to-servicerequest, nte-to-observation,
// nte-to-documentreference), by what the NTE follows:
//
//   - an OBX: Observation.note (obx.go);
//   - in MDM, the TXA and its OBX: a text attachment of the DocumentReference
//     (R4 DocumentReference has no note; the IG puts NTE-3 in content);
//   - an ORC, OBR, RXO, RXE or TQ1 of an order message: the request's note,
//     with NTE-3 as text (repetitions joined by newlines), NTE-5 as
//     authorReference and NTE-6 as time;
//   - anything else (PID, an OBR in ORU: R4 DiagnosticReport has no note):
//     listed in Result.Ignored.
func (c *conv) mapGroupNTE(s seg, g group) error {
	if g.obs != nil || g.order == nil || g.order.x == nil {
		c.mapNTE(s, g)
		return nil
	}
	x := g.order.x
	switch {
	case x.msg.doc != nil:
		if text := c.text(s, 3, s.reps(3)); text != "" {
			x.msg.doc.res.Append("content", obj("attachment", textAttachment("text/plain", text, "Note")))
		}
	case x.req != nil:
		x.req.res.Append("note", c.annotation(s))
	default:
		c.ignore(s)
	}
	return nil
}

// annotation maps an NTE to an Annotation; one with no text is nil.
func (c *conv) annotation(s seg) *Object {
	text := c.text(s, 3, s.reps(3))
	if text == "" {
		return nil
	}
	a := obj()
	if p := c.practitioner(s.field(5, 1)); p != nil {
		a.Set("authorReference", p.ref())
	}
	when, err := c.dateTimeAt(s, 6, 1, 1)
	c.keep(err)
	return a.Set("time", when).Set("text", text)
}
