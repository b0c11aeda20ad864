package hl7tofhir

// MRG (ADT^A40 merge) -> the merged-away Patient. The surviving patient
// (PID) gets active true and a "replaces" link; the patient named by MRG-1
// (its id chosen by the same rule as for PID-3) gets active false, its
// identifiers, MRG-7 name and a "replaced-by" link.
//
// That Patient is PUT whole, so its other data on the server is replaced:
// after a merge the old record is only a pointer to the survivor. A site
// that must keep it should PATCH instead.
func (c *conv) mapMerge(s seg) error {
	var identifiers []any
	var ids []Identifier
	for r := 1; r <= s.reps(1); r++ {
		id, ident, err := c.identifier(s.field(1, r))
		if err != nil {
			return err
		}
		if id != nil {
			identifiers = append(identifiers, id)
			ids = append(ids, ident)
		}
	}
	if len(ids) == 0 {
		return fieldErr("MRG-1", s.get(1, 1, 1), "has no identifier", "the prior patient identifier list: it names the merged-away patient")
	}
	oldID, err := c.patientID(ids, "MRG-1")
	if err != nil {
		return err
	}
	if oldID == c.patient.id {
		return fieldErr("MRG-1", ids[0].Value, "names the same Patient as PID-3 (id "+oldID+")", "the identifiers of a different, merged-away patient")
	}
	old, _ := c.entryWithID("Patient", oldID)
	old.res.Set("identifier", identifiers)
	old.res.Set("active", false)
	if name := humanName(s.field(7, 1), 1); name != nil {
		old.res.Set("name", []any{name})
	}
	old.res.Set("link", []any{obj("other", c.patient.ref(), "type", "replaced-by")})

	c.patient.res.Set("active", true)
	c.patient.res.Set("link", []any{obj("other", old.ref(), "type", "replaces")})
	return nil
}
