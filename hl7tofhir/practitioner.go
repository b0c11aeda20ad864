package hl7tofhir

// XCN -> Practitioner (IG datatype-xcn-to-practitioner): XCN-1 identifier
// with XCN-9 authority and XCN-13 type, XCN-2..7 name. Keyed by identifier,
// so the same clinician in PV1-7, DG1-16 and EVN-5 is one resource; a
// clinician sent by name only is keyed by sender and name.
func (c *conv) practitioner(f field) *entry {
	value := f.c(1)
	name := humanName(f, 2)
	if value == "" && name == nil {
		return nil
	}
	sys := c.system(f.sc(9, 1), f.sc(9, 2), f.sc(9, 3), f.c(13))
	key := sys + "|" + value
	if value == "" {
		key = "name|" + c.senderKey + "|" + f.s.raw(f.field, f.rep)
	}
	e, isNew := c.entry("Practitioner", key)
	if isNew {
		if value != "" {
			e.res.Set("identifier", []any{obj("type", typeCoding(f.c(13)), "system", sys, "value", value)})
		}
		if name != nil {
			e.res.Set("name", []any{name})
		}
	}
	return e
}

// XON -> Organization (IG datatype-xon-to-organization): XON-1 name,
// XON-10 identifier (XON-3 before v2.5) with XON-6 authority, or
// Options.OrganizationSystem when there is none (a GP practice code).
func (c *conv) organization(f field) *entry {
	name := f.c(1)
	value := f.c(10)
	if value == "" {
		value = f.c(3)
	}
	if name == "" && value == "" {
		return nil
	}
	sys := c.system(f.sc(6, 1), f.sc(6, 2), f.sc(6, 3), f.c(7))
	if sys == "" && value != "" {
		sys = c.opts.OrganizationSystem
	}
	key := sys + "|" + value
	if value == "" {
		key = "name|" + c.senderKey + "|" + name
	}
	e, isNew := c.entry("Organization", key)
	if isNew {
		if value != "" {
			e.res.Set("identifier", []any{obj("type", typeCoding(f.c(7)), "system", sys, "value", value)})
		}
		e.res.Set("name", name)
	}
	return e
}
