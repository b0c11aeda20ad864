package hl7tofhir

import "strings"

// PL -> Location (IG datatype-pl-to-location). As the IG recommends, the
// most granular level sent is the one the Encounter points at, and each
// level is chained to the one above with partOf: facility (PL-4, site) >
// point of care (PL-1, ward) > room (PL-2) > bed (PL-3). PL-9 describes the
// most granular. Keys are the levels sent, so the same bed in later
// messages is the same Location.
func (c *conv) location(f field) *entry {
	levels := []struct {
		tag, value, typ, display string
	}{
		{"facility", f.sc(4, 1), "si", "Site"},
		{"poc", f.sc(1, 1), "wa", "Ward"},
		{"room", f.c(2), "ro", "Room"},
		{"bed", f.c(3), "bd", "Bed"},
	}
	var parent *entry
	var key strings.Builder
	for _, l := range levels {
		if l.value == "" {
			continue
		}
		key.WriteString("|" + l.tag + "=" + l.value)
		e, isNew := c.entry("Location", key.String())
		if isNew {
			e.res.Set("name", l.value)
			e.res.Set("mode", "instance")
			e.res.Set("physicalType", obj("coding", []any{obj("system", sysLocationType, "code", l.typ, "display", l.display)}))
			if parent != nil {
				e.res.Set("partOf", parent.ref())
			}
		}
		parent = e
	}
	if parent != nil {
		if d := f.c(9); d != "" {
			parent.res.Set("description", d)
		}
	}
	return parent
}
