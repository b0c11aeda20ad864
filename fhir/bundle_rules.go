package fhir

import (
	"fmt"
	"strings"
)

// Bundle rules of the HL7 BundleValidator (beyond the bdl-* invariants, which run from the
// core StructureDefinition like any other): documents start with a Composition whose
// references resolve in the Bundle, messages with a MessageHeader, searchset entries carry
// search modes; and every reference made inside the entries resolves by Bundle rules
// (bundle_refs.go).

const (
	msgNoFirst         = "Documents or Messages must contain at least one entry"                        // Bundle_BUNDLE_Entry_NoFirst
	msgNoFirstResource = "No resource on first entry"                                                   // Bundle_BUNDLE_Entry_NoFirstResource
	msgDocFirst        = "The first entry in a document must be a composition"                          // Bundle_BUNDLE_Entry_Document
	msgMsgFirst        = "The first entry in a message must be a MessageHeader"                         // Validation_BUNDLE_Message
	msgSearchNoSelf    = "SearchSet Bundles should have a self link that specifies what the search was" // BUNDLE_SEARCH_NOSELF
	msgSearchNoMode    = "SearchSet bundles should have search modes on the entries"                    // BUNDLE_SEARCH_NO_MODE
	msgSearchNoRes     = "SearchSet Bundle Entries must have resources"                                 // BUNDLE_SEARCH_ENTRY_NO_RESOURCE
	msgSearchNoID      = "Search results must have ids"                                                 // BUNDLE_SEARCH_ENTRY_NO_RESOURCE_ID
	msgSearchOutcome   = "This is not an OperationOutcome (%s)"                                         // BUNDLE_SEARCH_ENTRY_WRONG_RESOURCE_TYPE_OUTCOME
)

// bundleRules runs the Bundle checks on the root Bundle.
func (c *vctx) bundleRules(root *node) {
	x := newBundleEntryIndex(root)
	entries := root.childrenNamed("entry")
	switch x.typ {
	case "document", "message":
		if len(entries) == 0 {
			c.is.add(root, SeverityError, CodeInvalid, msgNoFirst)
			break
		}
		first := entries[0].child("resource")
		if first == nil {
			c.is.add(entries[0], SeverityError, CodeInvalid, msgNoFirstResource)
			break
		}
		fu := entries[0].childValue("fullUrl")
		if x.typ == "document" {
			c.document(x, first, fu)
		} else {
			c.message(x, first, fu)
		}
		c.interlinked(root)
	case "searchset":
		c.searchSet(root, entries)
	}
	c.bundleReferences(root, x)
}

// document checks the Composition and that what it points to is in the Bundle.
func (c *vctx) document(x *bundleEntryIndex, comp *node, fu string) {
	if comp.typ != "Composition" {
		c.is.add(comp, SeverityError, CodeInvalid, msgDocFirst)
		return
	}
	c.docRefs(x, comp, fu, "Composition", "subject", "author", "encounter", "custodian")
	for _, a := range comp.childrenNamed("attester") {
		c.docRefs(x, a, fu, "Composition.attester", "party")
	}
	for _, e := range comp.childrenNamed("event") {
		c.docRefs(x, e, fu, "Composition.event", "detail")
	}
	c.sections(x, comp, fu)
}

// sections checks the references of each (nested) section, without recursion.
func (c *vctx) sections(x *bundleEntryIndex, comp *node, fu string) {
	stack := comp.childrenNamed("section")
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c.docRefs(x, s, fu, "Section", "author", "focus")
		for _, e := range s.childrenNamed("entry") {
			c.mustResolve(x, e, fu, "Section Entry")
		}
		stack = append(stack, s.childrenNamed("section")...)
	}
}

// docRefs requires the references in the named children of n to resolve in the Bundle.
func (c *vctx) docRefs(x *bundleEntryIndex, n *node, fu, title string, names ...string) {
	for _, name := range names {
		for _, r := range n.childrenNamed(name) {
			c.mustResolve(x, r, fu, title+"."+name)
		}
	}
}

// mustResolve reports a reference (not to a contained resource) that is not in the Bundle.
func (c *vctx) mustResolve(x *bundleEntryIndex, r *node, fu, name string) {
	ref := r.child("reference")
	if ref == nil || ref.value == "" || strings.HasPrefix(ref.value, "#") {
		return
	}
	muted := &issues{mute: 1} // the resolution's own problems are reported by bundleReferences
	saved := c.is
	c.is = muted
	found := c.fromBundle(x, ref.value, fu, ref) != nil
	matches := 0
	if target, version, _, ok := c.targetURL(x, ref.value, fu, ref); ok {
		key := target
		if version != "" {
			key += "|" + version
		}
		matches = x.byFullURL[key].count
	}
	c.is = saved
	switch {
	case !found:
		c.is.add(ref, SeverityError, CodeInvalid, fmt.Sprintf(msgEntryNotFound, ref.value, name))
	case matches > 1: // already an error where the reference is resolved; named here too
		c.is.add(ref, SeverityError, CodeInvalid, fmt.Sprintf(msgEntryFoundMulti, matches, ref.value, name))
	}
}

// message checks the MessageHeader and that its focus is in the Bundle.
func (c *vctx) message(x *bundleEntryIndex, mh *node, fu string) {
	if mh.typ != "MessageHeader" {
		c.is.add(mh, SeverityError, CodeInvalid, msgMsgFirst)
		return
	}
	for _, f := range mh.childrenNamed("focus") {
		c.mustResolve(x, f, fu, "MessageHeader Data")
	}
}

// searchSet checks the self link and the entries' search modes.
func (c *vctx) searchSet(root *node, entries []*node) {
	self := false
	for _, l := range root.childrenNamed("link") {
		self = self || l.childValue("relation") == "self"
	}
	if !self {
		c.is.add(root, SeverityWarning, CodeInvalid, msgSearchNoSelf)
	}
	withMode := 0
	for _, e := range entries {
		if e.child("search").childValue("mode") != "" {
			withMode++
		}
	}
	if withMode == 0 && len(entries) > 0 {
		c.searchWithoutModes(root, entries)
		return
	}
	for _, e := range entries {
		mode := e.child("search").childValue("mode")
		if mode == "" {
			c.is.add(standIn(e, "", root.line, root.col), SeverityWarning, CodeInvalid, msgSearchNoMode)
		}
		r := e.child("resource")
		if r == nil {
			c.is.add(standIn(e, "", root.line, root.col), SeverityError, CodeInvalid, msgSearchNoRes)
			continue
		}
		switch mode {
		case "match", "include":
			if r.childValue("id") == "" {
				c.is.add(standIn(r, "", root.line, root.col), SeverityError, CodeInvalid, msgSearchNoID)
			}
		case "outcome":
			if r.typ != "OperationOutcome" {
				c.is.add(standIn(r, "", root.line, root.col), SeverityError, CodeInvalid, fmt.Sprintf(msgSearchOutcome, r.typ))
			}
		}
	}
}

// searchWithoutModes: no entry says its search mode. Entries need resources with ids; the
// missing modes are a warning when the result mixes resource types, else information.
func (c *vctx) searchWithoutModes(root *node, entries []*node) {
	types := map[string]bool{}
	for _, e := range entries {
		r := e.child("resource")
		if r == nil {
			c.is.add(standIn(e, "", root.line, root.col), SeverityError, CodeInvalid, msgSearchNoRes)
			continue
		}
		if r.typ == "OperationOutcome" {
			continue
		}
		types[r.typ] = true
		if r.childValue("id") == "" {
			c.is.add(standIn(r, "", root.line, root.col), SeverityWarning, CodeInvalid, msgSearchNoID)
		}
	}
	sev := SeverityInformation
	if len(types) > 1 {
		sev = SeverityWarning
	}
	c.is.add(root, sev, CodeInvalid, msgSearchNoMode)
}
