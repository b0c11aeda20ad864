package hl7tofhir

// MRG (ADT^A34, A39, A40 merges) -> the merged-away Patient. The surviving
// patient (the PID before it) gets active true and a "replaces" link; the
// patient named by MRG-1
// (its id chosen by the same rule as for PID-3) gets active false, its
// identifiers, MRG-7 name and a "replaced-by" link.
//
// That Patient is PUT whole, so its other data on the server is replaced:
// after a merge the old record is only a pointer to the survivor. A site
// that must keep it should PATCH instead.
func (c *conv) mapMerge(s seg, survivor *entry) error {
	var identifiers []any
	var ids []Identifier
	for r := 1; r <= s.reps(1); r++ {
		id, ident, _ := c.identifier(s.field(1, r))
		if id != nil {
			identifiers = append(identifiers, id)
			ids = append(ids, ident)
		}
	}
	at := s.label() + "-1"
	if len(ids) == 0 {
		return fieldErr(at, s.get(1, 1, 1), "has no identifier", "the prior patient identifier list: it names the merged-away patient")
	}
	oldID := c.patientID(ids, at)
	if oldID == survivor.id {
		return fieldErr(at, ids[0].Value, "names the same Patient as PID-3 (id "+oldID+")", "the identifiers of a different, merged-away patient")
	}
	old, _ := c.entryWithID("Patient", oldID)
	old.res.Set("identifier", identifiers)
	old.res.Set("active", false)
	if name := humanName(s.field(7, 1), 1); name != nil {
		old.res.Set("name", []any{name})
	}
	old.res.Set("link", []any{obj("other", survivor.ref(), "type", "replaced-by")})

	survivor.res.Set("active", true)
	survivor.res.Append("link", obj("other", old.ref(), "type", "replaces"))
	return nil
}
