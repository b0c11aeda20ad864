package fhir

import "fmt"

// notChecked reports a code whose membership in a value set could not be decided locally:
// information when its code system is not held (SNOMED CT, LOINC, …: the HL7 validator
// without a terminology server does the same), a warning when the code system is held but
// cannot settle it (a fragment or example CodeSystem, a filter not evaluated here, a value
// set that is not found). Never an error. unheld is the message for a code system not held.
func (c *vctx) notChecked(n *node, v verdict, code, vsURL, unheld string) {
	switch v.why {
	case whySystem:
		c.is.add(n, SeverityInformation, CodeNotSupported, unheld)
	case whyFragm:
		c.is.add(n, SeverityWarning, CodeCodeInvalid, fmt.Sprintf("Unknown Code '%s' in the CodeSystem '%s' version '%s' - note that the code system is labeled as a fragment, so the code may be valid in some other fragment", code, v.system, c.v.term.csVersion(v.system)))
	case whyContent:
		c.is.add(n, SeverityWarning, CodeNotSupported, fmt.Sprintf("Resolved system %s, but the definition only has example content, so the code '%s' has not been validated against the value set '%s'", v.system, code, vsURL))
	default:
		c.is.add(n, SeverityWarning, CodeNotSupported, fmt.Sprintf("The code '%s' could not be checked against the value set '%s': %s", code, vsURL, v.detail))
	}
}

// csVersion is the version of the held CodeSystem system ("" when not held).
func (t *terminology) csVersion(system string) string {
	if cs := t.reg.codeSystem(system, nil); cs != nil {
		return cs.Version
	}
	return ""
}

// checkDisplay warns when a Coding's display differs from the display its held CodeSystem
// gives the code, as HAPI's in-memory terminology support does (a warning by default).
func (c *vctx) checkDisplay(n *node, system, code, vsURL string) {
	display := n.childValue("display")
	if display == "" || system == "" {
		return
	}
	want, ok := c.v.term.display(system, code)
	if !ok || want == "" || want == display {
		return
	}
	c.is.add(n.child("display"), SeverityWarning, CodeInvalid, fmt.Sprintf("Concept Display \"%s\" does not match expected \"%s\" for '%s#%s' for in-memory expansion of ValueSet '%s'", display, want, system, code, vsURL))
}

// display is the display a held CodeSystem gives code: (display, held).
func (t *terminology) display(system, code string) (string, bool) {
	cs, ix := t.codeSystemFor(system, nil)
	if cs == nil || (cs.Content != "complete" && cs.Content != "fragment") {
		return "", false
	}
	canon, ok := ix.lookup(code)
	if !ok {
		return "", false
	}
	return ix.concepts[canon].Display, true
}
