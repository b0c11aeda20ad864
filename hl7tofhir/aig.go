package hl7tofhir

import "strings"

// AIG -> Appointment.participant (IG segment-aig-to-appointment): AIG-4
// resource type is participant.type; AIG-3 resource ID is the actor: a
// Location (identifier AIG-3) when AIG-4 says the resource is a location,
// as the IG maps it, else a HealthcareService with that identifier and
// AIG-3.2 as its name (the IG names no actor for other general resources;
// HealthcareService is the R4 actor type for a bookable service or piece
// of equipment). Period AIG-8 start (or the Appointment's plus the AIG-9
// offset), end by AIG-11 duration; status from AIG-14. Keyed by AIG-3.
func (c *conv) mapAIG(s seg, _ *group) error {
	appt, err := c.appointment(s)
	if appt == nil {
		return err
	}
	var types []any
	if t := c.codeableAt(s, 4, 1); t.Len() > 0 {
		types = []any{t}
	}
	rtype := "HealthcareService"
	switch strings.ToUpper(s.get(4, 1, 1)) {
	case "L", "LOC", "LOCATION", "ROOM", "RM":
		rtype = "Location"
	}
	actor := c.generalResource(s.field(3, 1), rtype)
	return c.participant(appt, s, resourceSlot{start: 8, offset: 9, offsetUnits: 10, duration: 11, durationUnits: 12, status: 14}, actor, types)
}

// generalResource is the Location or HealthcareService a CWE resource ID
// names (IG CWE[Identifier]: CWE-1 value, CWE-3 system), named by CWE-2.
func (c *conv) generalResource(f field, rtype string) *entry {
	value, name := f.c(1), f.c(2)
	if value == "" && name == "" {
		return nil
	}
	// A local coding system (L, 99zzz) has no URI: its codes are the
	// sender's, so the key is scoped by the sender.
	sys := c.codeSystem(f.c(3))
	key := "id|" + keyPart(sys+"|"+value)
	if sys == "" {
		key = "local|" + c.senderKey + "|" + keyPart(f.c(3)+"|"+value)
	}
	if value == "" {
		key = "name|" + c.senderKey + "|" + keyPart(name)
	}
	e, isNew := c.entry(rtype, key)
	if isNew {
		if value != "" {
			e.res.Set("identifier", []any{obj("system", sys, "value", value)})
		}
		e.res.Set("name", name)
	}
	return e
}
