package fhir

import (
	"fmt"
	"strings"
)

// Resources are resources that resolve() reaches beyond the validated resource's own Bundle
// and contained resources, by type and id (Patient/123): as the IG Publisher resolves the
// references in invariants against the other examples of the guide. Read once, they serve any
// number of validations (one at a time or concurrently: they are not changed).
type Resources struct {
	types    map[string]*typeInfo
	byTypeID map[string]*node
}

// NewResources reads resources written in JSON or XML with the validator's definitions; a
// document that is not a resource is an error naming its position among docs. A Bundle is
// reachable as itself, not by its entries.
func (v *Validator) NewResources(docs ...[]byte) (*Resources, error) {
	rs := &Resources{types: v.types, byTypeID: map[string]*node{}}
	for i, d := range docs {
		if err := rs.Add(d); err != nil {
			return nil, fmt.Errorf("resource %d: %w", i+1, err)
		}
	}
	return rs, nil
}

// Add reads one more resource (the first one read of a Type/id is the one found). It must
// not run while a validation uses rs.
func (rs *Resources) Add(doc []byte) error {
	j, err := parseDocument(doc, rs.types)
	if err != nil {
		return err
	}
	if j.kind != jsonObject {
		return fmt.Errorf("the document must be a JSON object (a FHIR resource)")
	}
	root := (&reader{types: rs.types, issues: &issues{}}).readResource(j, nil, "")
	if rs.types[root.typ] == nil || !isResourceName(root.typ) {
		return fmt.Errorf("not a FHIR resource")
	}
	fixLocations(root)
	if id := root.childValue("id"); id != "" {
		if _, dup := rs.byTypeID[root.typ+"/"+id]; !dup {
			rs.byTypeID[root.typ+"/"+id] = root
		}
	}
	return nil
}

// fixLocations computes every node's location now, so that later validations only read the
// tree.
func fixLocations(n *node) {
	n.location()
	for _, c := range n.children {
		fixLocations(c)
	}
}

// Len is the number of resources reachable.
func (rs *Resources) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.byTypeID)
}

// resolve finds the resource a relative reference (Type/id, with or without _history)
// names. Absolute references are left alone: they name servers these resources need not
// stand for.
func (rs *Resources) resolve(ref string) *node {
	if rs == nil || !reRelativeRef.MatchString(ref) {
		return nil
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	return rs.byTypeID[ref]
}
