package hl7tofhir

import "strings"

// TXA -> DocumentReference (IG segment-txa-to-documentreference, MDM_T02
// message map), with the OBX after it as content (mdm.go).
//
//   - masterIdentifier TXA-12 (it keys the resource, so a later event about
//     the document updates it); identifier TXA-16 (file name);
//   - status TXA-19 (table 0273: AV, UN current; OB superseded; CA
//     entered-in-error; "current" when empty, as the IG says); docStatus
//     TXA-17 (table 0271: DI, DO, IN, IP, PA, PR preliminary; AU, LA final;
//     CA entered-in-error);
//   - type TXA-2; date TXA-6 (origination, when it has a time of day: date
//     is an instant); author TXA-9, authenticator TXA-10 -> Practitioner;
//     description TXA-25; securityLabel TXA-18 (table 0272 -> v3
//     Confidentiality: V, R, and U as N); context: encounter, period.start
//     TXA-4 and related, the message's ServiceRequests (ORC/OBR).
//
// The events (table 0003) say what the document is to the one it follows:
//
//   - T01/T02 original, T03/T04 status change: as TXA says;
//   - T05/T06 addendum: relatesTo appends TXA-13 (the parent document);
//   - T07/T08 edit and T09/T10 replacement: relatesTo replaces TXA-13; an
//     authenticated edit is docStatus amended;
//   - T11 cancel: status entered-in-error.
//
// relatesTo.target names the parent by identifier: the parent is not in the
// message, and PUTting it here would replace it with what this message knows.
// That is also why the original of an edit or replacement is not marked
// superseded: that is the receiving server's part.
func (c *conv) mapTXA(s seg, g *group) error {
	if c.msgType != "MDM" || (g.order != nil && g.order.x != nil && g.order.x.msg.doc != nil) {
		c.ignore(s)
		return nil
	}
	x := g.ext()
	master, mk := c.entityIdentifier(s.field(12, 1), "")
	key := c.msgKey(s)
	if mk != "" {
		key = "document|" + mk
	} else {
		c.warn(fieldErr(s.at(12, 1, 0), "", "is empty", "the unique document number: it identifies the DocumentReference"))
	}
	e, _ := c.entry("DocumentReference", key)
	x.msg.doc = e
	d := e.res
	d.Set("masterIdentifier", master)
	if fn := s.get(16, 1, 1); fn != "" {
		d.Set("identifier", []any{obj("value", fn)})
	}
	d.Set("status", c.documentStatus(s))
	d.Set("docStatus", c.docStatus(s))
	d.Set("type", c.codeableAt(s, 2, 1))
	d.Set("subject", c.patient.ref())
	if t, err := c.timeAt(s, 6, 1, 1, false); err != nil {
		c.warn(err)
	} else if t.hasTime() {
		d.Set("date", t.dateTime(c.opts.TimeZone))
	}
	var authors []any
	for r := 1; r <= s.reps(9); r++ {
		if p := c.practitioner(s.field(9, r)); p != nil {
			authors = append(authors, p.ref())
		}
	}
	d.Set("author", authors)
	if p := c.practitioner(s.field(10, 1)); p != nil {
		d.Set("authenticator", p.ref())
	}
	d.Set("relatesTo", c.relatesTo(s))
	d.Set("description", s.get(25, 1, 1))
	if v := strings.ToUpper(s.get(18, 1, 1)); v != "" {
		if code, ok := confidentialityMap[v]; ok {
			d.Set("securityLabel", []any{obj("coding", []any{code.coding()})})
		} else {
			c.warn(fieldErr(s.at(18, 1, 0), v, "is not a document confidentiality status", "HL7 table 0272: V, R or U"))
		}
	}
	c.documentContent(s, x.msg)
	start, err := c.dateTimeAt(s, 4, 1, 1)
	c.keep(err)
	var encounter []any
	if c.encounter != nil {
		encounter = []any{c.encounter.ref()}
	}
	d.Set("context", obj("encounter", encounter, "period", obj("start", start), "related", x.msg.related))
	return nil
}

// documentStatus is DocumentReference.status from the event and TXA-19.
func (c *conv) documentStatus(s seg) string {
	if c.event == "T11" {
		return "entered-in-error"
	}
	v := strings.ToUpper(s.get(19, 1, 1))
	if v == "" {
		return "current"
	}
	if st, ok := availabilityMap[v]; ok {
		return st
	}
	c.warn(fieldErr(s.at(19, 1, 0), v, "is not a document availability status", "HL7 table 0273: AV, CA, OB or UN"))
	return "current"
}

// docStatus is DocumentReference.docStatus from TXA-17 and the event.
func (c *conv) docStatus(s seg) string {
	v := strings.ToUpper(s.get(17, 1, 1))
	if v == "" {
		return ""
	}
	st, ok := completionMap[v]
	if !ok {
		c.warn(fieldErr(s.at(17, 1, 0), v, "is not a document completion status", "HL7 table 0271: AU, DI, DO, IN, IP, LA, PA"))
		return ""
	}
	if st == "final" && (c.event == "T07" || c.event == "T08") {
		return "amended"
	}
	return st
}

// relatesTo is the document's relation to TXA-13 for addenda, edits and
// replacements (T05 to T10).
func (c *conv) relatesTo(s seg) []any {
	code := ""
	switch c.event {
	case "T05", "T06":
		code = "appends"
	case "T07", "T08", "T09", "T10":
		code = "replaces"
	default:
		return nil
	}
	parent, _ := c.entityIdentifier(s.field(13, 1), "")
	if parent == nil {
		c.warn(fieldErr(s.at(13, 1, 0), "", "is empty", "the parent document number: MDM^"+c.event+" "+code+" it"))
		return nil
	}
	return []any{obj("code", code, "target", obj("type", "DocumentReference", "identifier", parent))}
}

// Table 0273 Document Availability Status -> DocumentReference.status.
var availabilityMap = map[string]string{"AV": "current", "UN": "current", "OB": "superseded", "CA": "entered-in-error"}

// Table 0271 Document Completion Status -> DocumentReference.docStatus (CA
// and PR were in v2.3 only).
var completionMap = map[string]string{
	"AU": "final", "LA": "final", "DI": "preliminary", "DO": "preliminary", "IN": "preliminary",
	"IP": "preliminary", "PA": "preliminary", "PR": "preliminary", "CA": "entered-in-error",
}

// Table 0272 Document Confidentiality Status -> v3 Confidentiality.
var confidentialityMap = map[string]code{
	"V": {sysConfidentiality, "V", "very restricted"},
	"R": {sysConfidentiality, "R", "restricted"},
	"U": {sysConfidentiality, "N", "normal"},
}

const sysConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
