package fhir

import "fmt"

// Contained resources (http://hl7.org/fhir/R4/references.html#contained), checked the way
// the HL7 validator checks them besides the dom-2..dom-6 invariants of DomainResource: each
// has an id, unique among its siblings, and is referenced from its container (or refers to
// the container with "#").

const (
	msgContainedNoID   = "Resource requires an id, but none is present"                                                                                                    // Resource_RES_ID_Missing
	msgDuplicateID     = "Duplicate id value '%s'"                                                                                                                         // DUPLICATE_ID
	msgContainedOrphan = "The contained resource '%s' is not referenced to from elsewhere in the containing resource nor does it refer to the containing resource (dom-3)" // CONTAINED_ORPHAN_DOM3
)

// containedRules checks the contained resources of every resource in the tree under root.
func (c *vctx) containedRules(root *node) {
	walkNodes(root, func(n *node) bool {
		if n.resource && n.name != "contained" {
			if cs := n.childrenNamed("contained"); len(cs) > 0 {
				c.contained(n, cs)
			}
		}
		return true
	})
}

func (c *vctx) contained(container *node, cs []*node) {
	refs := map[string]bool{} // "#id" references and uris anywhere in the container
	walkNodes(container, func(n *node) bool {
		if n != container && n.resource && n.name != "contained" {
			return false // an entry of a Bundle is a container of its own
		}
		switch n.typ {
		case "Reference":
			if v := n.childValue("reference"); v != "" && v[0] == '#' {
				refs[v] = true
			}
		case "canonical", "uri", "url":
			if n.hasValue && n.value != "" && n.value[0] == '#' {
				refs[n.value] = true
			}
		}
		return true
	})
	ids := map[string]bool{}
	for _, r := range cs {
		id := r.childValue("id")
		if id == "" {
			c.is.add(r, SeverityError, CodeInvalid, msgContainedNoID)
			continue
		}
		if ids[id] {
			c.is.add(r, SeverityError, CodeInvalid, fmt.Sprintf(msgDuplicateID, id))
		}
		ids[id] = true
		if !refs["#"+id] && !refersToContainer(r) {
			// A warning: the dom-3 invariant already makes the orphan an error, once.
			c.is.add(r, SeverityWarning, CodeBusinessRule, fmt.Sprintf(msgContainedOrphan, id))
		}
	}
}

// refersToContainer tells whether contained resource r points back at its container ("#").
func refersToContainer(r *node) bool {
	found := false
	walkNodes(r, func(n *node) bool {
		switch {
		case found:
		case n.typ == "Reference":
			found = n.childValue("reference") == "#"
		case n.typ == "canonical" || n.typ == "uri" || n.typ == "url":
			found = n.hasValue && n.value == "#"
		}
		return !found
	})
	return found
}
