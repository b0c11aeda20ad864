package hl7tofhir

import "strings"

// PV1/PV2 -> Encounter (IG segment-pv1-to-encounter, segment-pv2-to-encounter).
//
//   - identifier: PV1-19 visit number (type VN), PV1-50 alternate visit ID;
//     the visit number keys the Encounter, so A01, A02, A03 and A08 for
//     one visit update one resource;
//   - status: from the event (IG Event[EncounterStatus]: A03 finished, A11
//     cancelled, A13 in-progress, ...); for events that do not say (A08,
//     R01, V04), finished when PV1-45 is valued, else from PV1-2;
//   - class: PV1-2 via table 0004. Encounter.class is required, so a PV1
//     with no PV1-2 makes no Encounter (a warning, except in results and
//     immunisations, where a bare PV1 is usual); a code outside table 0004
//     is kept as a v2-0004 coding (the binding is extensible) with a
//     warning, and status "unknown" unless the event gives one;
//   - type PV1-4, serviceType PV1-10, reasonCode PV2-3;
//   - participant: PV1-7 ATND, PV1-8 REF, PV1-9 CON, PV1-17 ADM -> Practitioner;
//   - period: PV1-44 start, PV1-45 end (not on A13, which cancels the discharge);
//   - location: PV1-3 (active, or planned for preadmits), PV1-6 prior
//     (completed), PV1-11 temporary (active), PV1-42 pending (reserved);
//     PV1-40 bed status on the bed;
//   - hospitalization: PV1-5, PV1-13, PV1-14, PV1-15, PV1-16, PV1-36, PV1-38.
func (c *conv) mapEncounter(s seg) error {
	class := strings.ToUpper(strings.TrimSpace(s.get(2, 1, 1)))
	if class == "" && (c.event == "R01" || c.event == "V04") {
		// In results and immunisations PV1 is optional context, often sent bare: without
		// a patient class there is no Encounter to make (Encounter.class is required).
		return nil
	}
	cl, ok := patientClassMap[class]
	if !ok {
		codes := c.spec.tableCodes("0004")
		if class == "" {
			return fieldErr(s.at(2, 1, 0), "", "is empty: no Encounter is made", "a patient class from HL7 table 0004 (v"+c.spec.name+"): "+codes)
		}
		c.warnf(s.at(2, 1, 0), class, "is not a patient class: kept as a v2-0004 code", "HL7 table 0004 (v"+c.spec.name+"): "+codes)
		cl = code{sysV2 + "0004", class, ""}
	}

	var identifiers []any
	key := c.msgKey(s)
	for _, n := range []int{19, 50} {
		for r := 1; r <= s.reps(n); r++ {
			id, ident, _ := c.identifier(s.field(n, r))
			if id == nil {
				continue
			}
			if n == 19 && id.Get("type") == nil {
				id = obj("type", typeCoding("VN"), "system", ident.System, "value", ident.Value, "period", id.Get("period"), "assigner", id.Get("assigner"))
			}
			if n == 19 && r == 1 {
				key = "visit|" + ident.System + "|" + ident.Value
			}
			identifiers = append(identifiers, id)
		}
	}
	e, _ := c.entry("Encounter", key)
	c.encounter = e
	enc := e.res

	start := c.dateTimeOrWarn(s, 44, 1, 1)
	end := c.dateTimeOrWarn(s, 45, 1, 1)
	status, ok := eventStatus[c.event]
	if !ok || c.msgType != "ADT" {
		status = firstNonEmpty(patientClassStatus[class], "unknown")
		if end != "" {
			status = "finished"
		}
	}
	if c.event == "A13" {
		end = ""
	}

	enc.Set("identifier", identifiers)
	enc.Set("status", status)
	enc.Set("class", cl.coding())
	if t := c.codeableAt(s, 4, 1); t.Len() > 0 {
		enc.Set("type", []any{t})
	}
	enc.Set("serviceType", c.codeableAt(s, 10, 1))
	enc.Set("subject", c.patient.ref())
	enc.Set("participant", c.participants(s))
	enc.Set("period", obj("start", start, "end", end))
	if pv2, ok := c.pv2For(s); ok {
		if r := c.codeableAt(pv2, 3, 1); r.Len() > 0 {
			enc.Set("reasonCode", []any{r})
		}
	}
	enc.Set("hospitalization", c.hospitalization(s))
	enc.Set("location", c.encounterLocations(s, class))
	return nil
}

// participants maps the attending, referring, consulting and admitting
// doctors (v3 ParticipationType codes, as the IG assigns them).
func (c *conv) participants(s seg) []any {
	var out []any
	for _, p := range []struct {
		field         int
		code, display string
	}{{7, "ATND", "attender"}, {8, "REF", "referrer"}, {9, "CON", "consultant"}, {17, "ADM", "admitter"}} {
		for r := 1; r <= s.reps(p.field); r++ {
			if pr := c.practitioner(s.field(p.field, r)); pr != nil {
				out = append(out, obj(
					"type", []any{obj("coding", []any{obj("system", sysParticipation, "code", p.code, "display", p.display)})},
					"individual", pr.ref()))
			}
		}
	}
	return out
}

func (c *conv) hospitalization(s seg) *Object {
	pre, _, _ := c.identifier(s.field(5, 1))
	var arrangements []any
	for r := 1; r <= s.reps(15); r++ {
		if a := c.codeableAt(s, 15, r); a.Len() > 0 {
			arrangements = append(arrangements, a)
		}
	}
	var diet []any
	if d := c.codeableAt(s, 38, 1); d.Len() > 0 {
		diet = []any{d}
	}
	return obj(
		"preAdmissionIdentifier", pre,
		"admitSource", c.codeableAt(s, 14, 1),
		"reAdmission", c.codeableAt(s, 13, 1),
		"dietPreference", diet,
		"specialCourtesy", codeableList(c.codeableAt(s, 16, 1)),
		"specialArrangement", arrangements,
		"dischargeDisposition", c.codeableAt(s, 36, 1),
	)
}

// pv2For is the PV2 of a PV1: for the message's first PV1 its first PV2,
// wherever it is (senders put it before PV1 too); for a later PV1 (the
// second patient of an A17) the PV2 after it, before the next PID or PV1.
func (c *conv) pv2For(pv1 seg) (seg, bool) {
	if pv1.occ == 1 {
		return c.first("PV2")
	}
	for _, s := range c.segs[pv1.index+1:] {
		switch s.name {
		case "PV2":
			return s, true
		case "PID", "PV1":
			return seg{}, false
		}
	}
	return seg{}, false
}

func codeableList(cc *Object) []any {
	if cc.Len() == 0 {
		return nil
	}
	return []any{cc}
}

// encounterLocations maps PV1-3, PV1-6, PV1-11 and PV1-42.
func (c *conv) encounterLocations(s seg, class string) []any {
	current := "active"
	if class == "P" {
		current = "planned"
	}
	var out []any
	for _, l := range []struct {
		field  int
		status string
	}{{3, current}, {6, "completed"}, {11, "active"}, {42, "reserved"}} {
		loc := c.location(s.field(l.field, 1))
		if loc == nil {
			continue
		}
		if l.field == 3 && s.get(3, 1, 3) != "" {
			if bs := s.get(40, 1, 1); bs != "" {
				loc.res.Set("operationalStatus", obj("system", sysV2+"0116", "code", bs))
			}
		}
		out = append(out, obj("location", loc.ref(), "status", l.status))
	}
	return out
}
