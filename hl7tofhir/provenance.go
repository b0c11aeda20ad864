package hl7tofhir

// MSH/EVN -> Provenance (IG segment-msh-to-provenance,
// segment-evn-to-provenance). A transaction Bundle has no MessageHeader,
// so the message's facts go in a Provenance that targets every resource
// made from it: recorded MSH-7, activity the trigger event (table 0003, in
// R4's ProvenanceActivityType), occurred EVN-6 (else EVN-2), the sending
// application (MSH-3) as author on behalf of the sending facility (MSH-4),
// the EVN-5 operator as enterer, and the message itself (MSH-10) as the
// source entity. The receiving side (MSH-5/6) is in entity.what's display.
// Bundle.identifier and Bundle.timestamp carry MSH-10 and MSH-7 too.
func (c *conv) mapProvenance() error {
	msh := c.msh
	var occurred string
	var operator *entry
	if evn, ok := c.first("EVN"); ok {
		for _, f := range []int{2, 6} {
			if when := c.dateTimeOrWarn(evn, f, 1, 1); when != "" {
				occurred = when // EVN-6 (event occurred) wins over EVN-2 (recorded)
			}
		}
		operator = c.practitioner(evn.field(5, 1))
	}
	if c.timestamp == "" {
		// Provenance.recorded is required and MSH-7 (warned of in header)
		// gave no time: the Bundle goes without a Provenance.
		return nil
	}
	targets := make([]any, 0, len(c.entries))
	for _, e := range c.entries {
		targets = append(targets, e.ref())
	}
	e, _ := c.entry("Provenance", c.msgKey(msh))
	p := e.res
	p.Set("target", targets)
	p.Set("occurredDateTime", occurred)
	p.Set("recorded", c.timestamp)
	p.Set("activity", obj("coding", []any{obj("system", sysV2+"0003", "code", c.event)}))
	app, facility := msh.get(3, 1, 1), msh.get(4, 1, 1)
	if app == "" {
		app = facility
	}
	author := obj(
		"type", obj("coding", []any{obj("system", sysProvenanceAgent, "code", "author", "display", "Author")}),
		"who", obj("display", firstNonEmpty(app, "unknown sending application")),
	)
	if facility != "" && facility != app {
		author.Set("onBehalfOf", obj("display", facility))
	}
	p.Append("agent", author)
	if operator != nil {
		p.Append("agent", obj(
			"type", obj("coding", []any{obj("system", sysProvenanceAgent, "code", "enterer", "display", "Enterer")}),
			"who", operator.ref()))
	}
	to := msh.get(5, 1, 1)
	if f := msh.get(6, 1, 1); f != "" {
		to += "@" + f
	}
	display := "HL7v2 " + c.msgType + "^" + c.event + " message " + c.controlID
	if to != "" {
		display += " to " + to
	}
	p.Set("entity", []any{obj("role", "source", "what", obj("identifier", c.messageIdentifier(), "display", display))})
	return nil
}

const sysProvenanceAgent = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
