package hl7tofhir

import "strings"

// ORC -> ServiceRequest or MedicationRequest (IG segment-orc-to-servicerequest;
// the IG has no ORC map for MedicationRequest, so the same fields are used).
// In ORM, OML and MDM an ORC makes a ServiceRequest, or a MedicationRequest
// when its order detail is an RXO or RXE; in RDE always a MedicationRequest,
// and an RDE ORC with no RXO or RXE after it is left out with a warning (R4
// requires the medication).
// In ORU and VXU the ORC only lends its numbers to the OBR and RXA (order.go).
//
//   - identifier ORC-2 (PLAC), ORC-3 (FILL), or OBR-2/OBR-3 of the order
//     detail when the ORC has none, and ORC-4 (PGN); the placer number (else
//     the filler's: the placer assigns its number first, and the filler's may
//     arrive only later) keys the resource, so a later message about the
//     order (a cancel, a status change) updates the same resource;
//   - status ORC-5 (table 0038, IG OrderStatus), else ORC-1 (table 0119, IG
//     OrderControlCode[ServiceRequest.status]), else "unknown". For a
//     MedicationRequest the IG's request status is narrowed: revoked is
//     stopped for a discontinue (DC, DR, OD) and cancelled otherwise;
//   - intent "order"; authoredOn ORC-9 when ORC-1 is NW (as the IG says: for
//     other control codes ORC-9 is when that event happened); requester
//     ORC-12 (first repetition) -> Practitioner; locationCode ORC-29;
//   - ORC-16 (order control code reason) as the request-statusReason
//     extension. The IG maps it so only when ORC-5 is empty; it is kept
//     whenever sent, since a cancel usually carries both its reason and
//     ORC-5 CA.
//
//   - ORC-7 (TQ) as tq1.go's applyTQ says, unless a TQ1 follows (TQ1
//     supersedes it).
//
// Not mapped: ORC-8 parent and ORC-21..24
// (the IG sends them to a PractitionerRole, which is not made here).

// orderExt is what order, pharmacy and document messages make of an order
// group, kept on the group's order (see group.ext).
type orderExt struct {
	msg        *orderMsg
	req        *entry  // the ServiceRequest or MedicationRequest of the group
	med        bool    // req is a MedicationRequest
	obrSeen    bool    // an OBR has filled req: another OBR makes its own
	medication *entry  // the MedicationRequest's Medication
	dosage     *Object // MedicationRequest.dosageInstruction[0]
	specimen   *entry  // the Specimen of the group's last SPM
}

// orderMsg is state that outlives an order group: the MDM document and the
// requests the document is about.
type orderMsg struct {
	doc     *entry // the TXA's DocumentReference
	docEnd  int    // index of the first segment after the OBX/NTE run the TXA read
	related []any  // the message's ServiceRequests, DocumentReference.context.related
}

// placesOrders reports whether ORC, OBR and RXO make requests in this message.
func (c *conv) placesOrders() bool {
	switch c.msgType {
	case "ORM", "OML", "RDE", "MDM":
		return true
	}
	return false
}

// openOrder starts the order group of an ORC, carrying the message-level state
// over from the previous group, and maps the ORC.
func (c *conv) openOrder(s seg, prev group) (group, error) {
	g := group{order: &order{orc: s}}
	if !c.placesOrders() {
		return g, nil
	}
	msg := &orderMsg{}
	if prev.order != nil && prev.order.x != nil {
		msg = prev.order.x.msg
	}
	g.order.x = &orderExt{msg: msg}
	return g, c.mapORC(s, &g)
}

// ext returns the group's order state, opening an order with no ORC for the
// segments that come without one (a TXA, an OBR or SPM with no ORC above it).
func (g *group) ext() *orderExt {
	if g.order == nil {
		g.order = &order{}
	}
	if g.order.x == nil {
		g.order.x = &orderExt{msg: &orderMsg{}}
	}
	return g.order.x
}

// orderDetail returns the segment that details the ORC's order (OBR, RXO or
// RXE), looking past the timing and participation segments between them,
// and whether a TQ1 is among those.
// Each segment passed over belongs to this ORC's group, so the look-ahead
// reads each segment of the message at most once.
func (c *conv) orderDetail(s seg) (detail seg, ok, timed bool) {
	for i := s.index + 1; i < len(c.segs); i++ {
		switch c.segs[i].name {
		case "TQ1":
			timed = true
			continue
		case "TQ2", "PRT":
			continue
		case "OBR", "RXO", "RXE":
			return c.segs[i], true, timed
		}
		break
	}
	return seg{}, false, timed
}

func (c *conv) mapORC(s seg, g *group) error {
	o, x := g.order, g.order.x
	detail, hasDetail, timed := c.orderDetail(s)
	rtype := "ServiceRequest"
	if c.msgType == "RDE" || (hasDetail && detail.name != "OBR") {
		rtype, x.med = "MedicationRequest", true
		if !hasDetail {
			// Left out before anything is made, so that the group's other
			// segments find no request to refer to.
			return fieldErr(s.label(), "", "is not followed by an RXO or RXE: no MedicationRequest is made",
				"the order's RXE (or RXO): it names the medication, which a MedicationRequest requires")
		}
	}
	placer, filler := o.placerID(c), o.fillerID(c)
	pk, fk := placer.key, filler.key
	if pk == "" && fk == "" && hasDetail && detail.name == "OBR" {
		_, pk = c.entityIdentifier(detail.field(2, 1), "")
		_, fk = c.entityIdentifier(detail.field(3, 1), "")
	}
	key := c.msgKey(s)
	switch {
	case pk != "":
		key = "placer|" + pk
	case fk != "":
		key = "filler|" + fk
	}
	e, _ := c.entry(rtype, key)
	x.req = e
	r := e.res
	var ids []any
	for _, id := range []*Object{placer.id, filler.id} {
		if id != nil {
			ids = append(ids, id)
		}
	}
	if grp, _ := c.entityIdentifier(s.field(4, 1), "PGN"); grp != nil {
		ids = append(ids, grp)
	}
	r.Set("identifier", ids)
	control := strings.ToUpper(s.get(1, 1, 1))
	r.Set("status", c.orderStatus(s, control, x.med))
	r.Set("intent", "order")
	r.Set("subject", c.patient.ref())
	if c.encounter != nil {
		r.Set("encounter", c.encounter.ref())
	}
	if control == "NW" {
		when, err := c.dateTimeAt(s, 9, 1, 1)
		c.keep(err)
		r.Set("authoredOn", when)
	}
	if p := c.practitioner(s.field(12, 1)); p != nil {
		r.Set("requester", p.ref())
	}
	if reason := c.codeableAt(s, 16, 1); reason.Len() > 0 {
		r.Append("extension", obj("url", extStatusReason, "valueCodeableConcept", reason))
	}
	if !x.med {
		if lc := c.codeableAt(s, 29, 1); lc.Len() > 0 {
			r.Set("locationCode", []any{lc})
		}
	}
	if !timed {
		c.applyTQ(x, s, 7)
	}
	if c.msgType == "MDM" && !x.med {
		x.msg.related = append(x.msg.related, e.ref())
	}
	return nil
}

const extStatusReason = "http://hl7.org/fhir/StructureDefinition/request-statusReason"

// keep records err, when there is one, as a warning of the conversion.
func (c *conv) keep(err error) {
	if err != nil {
		c.warn(err)
	}
}

// orderStatus is the request status from ORC-5, else ORC-1; an ORC-5 or
// ORC-1 that is not in its table is a warning.
func (c *conv) orderStatus(s seg, control string, med bool) string {
	status, code := "", ""
	if v := strings.ToUpper(s.get(5, 1, 1)); v != "" {
		if st, ok := orderStatusMap[v]; ok {
			status, code = st, v
		} else {
			c.warn(fieldErr(s.at(5, 1, 0), v, "is not an order status", "HL7 table 0038: A, CA, CM, DC, ER, HD, IP, RP, SC"))
		}
	}
	if status == "" && control != "" {
		if !orderControlCodes[control] {
			c.warn(fieldErr(s.at(1, 1, 0), control, "is not an order control code", "HL7 table 0119, e.g. NW, OK, CA, DC, SC, XO"))
		} else if st, ok := orderControlStatus[control]; ok {
			status, code = st, control
		}
	}
	if status == "" {
		status = "unknown"
	}
	if med {
		return medicationStatus(status, code)
	}
	return status
}

// medicationStatus narrows a request status to MedicationRequest.status.
func medicationStatus(status, code string) string {
	if status != "revoked" {
		return status
	}
	switch code {
	case "DC", "DR", "OD":
		return "stopped"
	}
	return "cancelled"
}

// Table 0038 Order Status -> request-status (IG OrderStatus; A, some results
// available, which the IG leaves out, is active).
var orderStatusMap = map[string]string{
	"A": "active", "CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error",
	"HD": "on-hold", "IP": "active", "RP": "revoked", "SC": "active",
}

// Table 0119 Order Control -> request-status (IG
// OrderControlCode[ServiceRequest.status]); codes the IG leaves unmapped
// give no status.
var orderControlStatus = map[string]string{
	"AF": "active", "CA": "active", "CR": "revoked", "DC": "revoked", "DF": "revoked",
	"DR": "revoked", "FU": "completed", "HD": "active", "HR": "on-hold", "NW": "active",
	"OC": "revoked", "OD": "revoked", "OH": "on-hold", "OK": "active", "PR": "active",
	"PY": "active", "RL": "active", "RO": "active", "RQ": "active",
}

var orderControlCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Fields("AF CA CH CN CP CR DC DE DF DR FU HD HR LI MC NA NW OC OD OE OF OH OK OP OR PA PR PY RE RF RL RO RP RQ RR RU SC SN SR SS UA UC UD UF UH UM UN UR UX XO XR XX") {
		m[v] = true
	}
	return m
}()

// Table 0027 Priority (TQ-6, OBR-5, TQ1-9) -> request-priority. P
// (preoperative), C (callback), T (timing critical) and PRN have no FHIR
// priority and are left out.
var priorityMap = map[string]string{"S": "stat", "A": "asap", "R": "routine"}

// priority maps a table 0027 code, warning about codes outside the table.
func (c *conv) priority(s seg, field, rep, comp int) string {
	v := strings.ToUpper(s.get(field, rep, comp))
	if v == "" {
		return ""
	}
	if p, ok := priorityMap[v]; ok {
		return p
	}
	switch v {
	case "P", "C", "T", "PRN":
		return ""
	}
	c.warn(fieldErr(s.at(field, rep, 0), v, "is not a priority", "HL7 table 0027: S, A, R, P, C, T or PRN"))
	return ""
}

// hasPrefix reports whether o has a member whose name starts with p (a
// choice element such as occurrence[x] is set once).
func hasPrefix(o *Object, p string) bool {
	for _, m := range o.members {
		if strings.HasPrefix(m.key, p) {
			return true
		}
	}
	return false
}
