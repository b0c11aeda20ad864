package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
)

// elementDefinition() gives, for each element of the input, its ElementDefinition in the
// base specification (the profile an invariant comes from is not known per element).
func (e *fpEnv) elementDefinition(x *fpNode, in, focus []item) ([]item, error) {
	if e.c == nil || e.c.v == nil {
		return nil, fmt.Errorf("elementDefinition(): %w", errUnsupported)
	}
	var out []item
	for _, it := range in {
		if it.n == nil {
			continue
		}
		rt, path := definitionPath(it.n)
		sd := e.c.v.reg.coreType(rt)
		if sd == nil || sd.Snapshot == nil {
			continue
		}
		for _, ed := range sd.Snapshot.Element {
			if ed.Path == path || ed.Path == path+"[x]" {
				if n := e.edNode(ed); n != nil {
					out = append(out, item{n: n})
				}
				break
			}
		}
	}
	return out, nil
}

// definitionPath is the resource or data type whose definition holds an element, and the
// element's path there: Patient.name, HumanName.given, Patient.contact.name.
func definitionPath(n *node) (string, string) {
	if n.resource || n.parent == nil {
		return n.typ, n.typ
	}
	names := []string{n.name}
	p := n.parent
	for p.parent != nil && !p.resource && (!dataTypes[p.typ] || p.typ == "BackboneElement" || p.typ == "Element") {
		names = append(names, p.name)
		p = p.parent
	}
	parts := []string{p.typ}
	for i := len(names) - 1; i >= 0; i-- {
		parts = append(parts, names[i])
	}
	return p.typ, strings.Join(parts, ".")
}

// edNode reads an ElementDefinition as an element FHIRPath can navigate.
func (e *fpEnv) edNode(ed *ElementDefinition) *node {
	raw, err := json.Marshal(ed)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	raw, _ = json.Marshal(pruneJSON(m))
	j, err := parseJSON(raw)
	if err != nil {
		return nil
	}
	n := &node{name: "elementDefinition", typ: "ElementDefinition"}
	(&reader{types: e.c.v.types, issues: &issues{}}).readChildren(n, j, "ElementDefinition")
	return n
}

// pruneJSON drops empty values and the Go-only fields (capitalised, fhirType) of a
// marshalled definition.
func pruneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if k == "" || (k[0] >= 'A' && k[0] <= 'Z') || k == "fhirType" {
				continue
			}
			if p := pruneJSON(val); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, val := range x {
			if p := pruneJSON(val); p != nil {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	}
	return v
}
