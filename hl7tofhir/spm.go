package hl7tofhir

import (
	"encoding/json"
	"strings"
)

// SPM -> Specimen (IG segment-spm-to-specimen), requested by the group's
// ServiceRequest (which lists it in specimen), or the specimen of the
// DiagnosticReport of an ORU; the OBX after an SPM name it as their specimen.
//
//   - identifier SPM-2 (placer and filler specimen numbers, PLAC/FILL),
//     SPM-31 (CX) and SPM-32 (SHIP); accessionIdentifier SPM-30; the filler
//     number (else the placer's, else the accession number) keys it;
//   - parent SPM-3 (as identifier references: the parent is not in the
//     message); type SPM-4; container additive SPM-6 and type SPM-27;
//   - collection: method SPM-7, bodySite SPM-8, quantity SPM-12 (CQ),
//     collected SPM-17 (DR: a period when it has an end); receivedTime SPM-18;
//   - status SPM-20 (Y available, N unavailable); condition SPM-24; note
//     SPM-14.
func (c *conv) mapSPM(s seg, g *group) error {
	x := g.ext()
	placer, pk := c.eipPart(s.field(2, 1), 1, "PLAC")
	filler, fk := c.eipPart(s.field(2, 1), 2, "FILL")
	accession, acc, _ := c.identifier(s.field(30, 1))
	key := c.msgKey(s)
	switch {
	case pk != "":
		key = "specimen|placer|" + pk
	case fk != "":
		key = "specimen|filler|" + fk
	case acc.Value != "":
		key = "specimen|accession|" + keyPart(acc.System+"|"+acc.Value)
	}
	e, _ := c.entry("Specimen", key)
	x.specimen = e
	sp := e.res
	ids := []any{}
	for _, id := range []*Object{placer, filler} {
		if id != nil {
			ids = append(ids, id)
		}
	}
	for r := 1; r <= s.reps(31); r++ {
		if id, _, _ := c.identifier(s.field(31, r)); id != nil {
			ids = append(ids, id)
		}
	}
	if ship, _ := c.entityIdentifier(s.field(32, 1), "SHIP"); ship != nil {
		ids = append(ids, ship)
	}
	sp.Set("identifier", ids)
	sp.Set("accessionIdentifier", accession)
	switch v := strings.ToUpper(s.get(20, 1, 1)); v {
	case "":
	case "Y":
		sp.Set("status", "available")
	case "N":
		sp.Set("status", "unavailable")
	default:
		c.warn(fieldErr(s.at(20, 1, 0), v, "is not a yes/no indicator", "Y or N (HL7 table 0136)"))
	}
	sp.Set("type", c.codeableAt(s, 4, 1))
	sp.Set("subject", c.patient.ref())
	received, err := c.dateTimeAt(s, 18, 1, 1)
	c.keep(err)
	sp.Set("receivedTime", received)
	var parents []any
	for r := 1; r <= s.reps(3); r++ {
		if id, _ := c.eipPart(s.field(3, r), 2, ""); id != nil {
			parents = append(parents, obj("identifier", id))
		} else if id, _ := c.eipPart(s.field(3, r), 1, ""); id != nil {
			parents = append(parents, obj("identifier", id))
		}
	}
	sp.Set("parent", parents)
	switch {
	case x.req != nil && !x.med:
		sp.Set("request", []any{x.req.ref()})
		x.req.res.Append("specimen", e.ref())
	case g.report != nil:
		g.report.res.Append("specimen", e.ref())
	}
	sp.Set("collection", c.collection(s))
	if ct := obj("type", c.codeableAt(s, 27, 1), "additiveCodeableConcept", c.codeableAt(s, 6, 1)); ct.Len() > 0 {
		sp.Set("container", []any{ct})
	}
	sp.Set("condition", c.codeables(s, 24))
	if text := c.text(s, 14, s.reps(14)); text != "" {
		sp.Set("note", []any{obj("text", text)})
	}
	return nil
}

// collection is Specimen.collection from SPM-7, -8, -12 and -17.
func (c *conv) collection(s seg) *Object {
	col := obj("method", c.codeableAt(s, 7, 1), "bodySite", c.codeableAt(s, 8, 1))
	col.Set("quantity", c.cq(s, 12, 1))
	start, err := c.dateTimeAt(s, 17, 1, 1)
	c.keep(err)
	end, err := c.dateTimeAt(s, 17, 1, 2)
	c.keep(err)
	if end != "" {
		col.Set("collectedPeriod", obj("start", start, "end", end))
	} else {
		col.Set("collectedDateTime", start)
	}
	return col
}

// eipPart maps component part (1 placer, 2 filler) of an EIP, an EI in
// subcomponents, to an Identifier with its key.
func (c *conv) eipPart(f field, part int, typ string) (*Object, string) {
	value := f.sc(part, 1)
	if value == "" {
		return nil, ""
	}
	sys := c.system(f.sc(part, 2), f.sc(part, 3), f.sc(part, 4), "")
	return obj("type", typeCoding(typ), "system", sys, "value", value), keyPart(sys + "|" + value)
}

// unitQuantity is a Quantity whose units are a CWE's code, text and system:
// UCUM units keep code and system, others the text (a code needs a system).
func unitQuantity(v json.Number, code, text, sys string) *Object {
	unit := firstNonEmpty(text, code)
	q := obj("value", v, "unit", unit)
	if sys == sysUCUM && code != "" {
		q.Set("system", sysUCUM).Set("code", code)
	}
	return q
}
