package fhir

import "strings"

// Implicit value sets: a URL that names no ValueSet resource may still stand for one, as the
// HL7 validator reads them: a held CodeSystem's CodeSystem.valueSet (all its codes), or the
// R4 "system?fhir_vs" forms (all codes, or fhir_vs=isa/code for a code and its descendants,
// as SNOMED CT and LOINC define them).

type vsFilterDef = struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// implicitInclude returns the include an implicit value set url stands for.
func (t *terminology) implicitInclude(url string, from *Package) (vsInclude, bool) {
	if i := strings.Index(url, "?fhir_vs"); i > 0 {
		inc := vsInclude{System: url[:i]}
		switch q := url[i+len("?fhir_vs"):]; {
		case q == "":
		case strings.HasPrefix(q, "=isa/"):
			inc.Filter = []vsFilterDef{{Property: "concept", Op: "is-a", Value: q[len("=isa/"):]}}
		default: // refset/…, ecl/…: left to a terminology server
			inc.Filter = []vsFilterDef{{Property: "concept", Op: "fhir_vs" + q, Value: ""}}
		}
		return inc, true
	}
	for _, p := range t.reg.scope(from) {
		for _, cs := range t.reg.css[p] {
			if cs.ValueSet != "" && stripVersion(cs.ValueSet) == url {
				return vsInclude{System: cs.URL}, true
			}
		}
	}
	return vsInclude{}, false
}
