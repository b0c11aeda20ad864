package fhir

import (
	"fmt"
	"strings"
)

// Documents and messages hold together: every entry is reached from the first one (the
// Composition or MessageHeader) by following references forwards, or, for a Provenance,
// backwards. The HL7 validator's warnings, with its resolution rules for this check
// (resolveInBundle: an absolute reference by fullUrl; a relative one against the base of the
// entry's RESTful fullUrl, else by type and id).

const (
	msgEntryOrphan  = "Entry %s isn't reachable by traversing from first Bundle entry"                                                                                                          // Bundle_BUNDLE_Entry_Orphan
	msgEntryReverse = "Entry %s isn't reachable by traversing forwards from first Bundle entry, and isn't a resource type that is typically used that way - check this is not missed somewhere" // BUNDLE_BUNDLE_ENTRY_REVERSE
)

// linkedEntry is one entry with a resource, and the entries its references reach.
type linkedEntry struct {
	entry, res *node
	fullURL    string
	targets    []int
	sources    []int
}

// interlinked warns about the entries of a document or message not reached from the first.
func (c *vctx) interlinked(root *node) {
	var list []*linkedEntry
	byURL, byTypeID := map[string]int{}, map[string]int{}
	for _, e := range root.childrenNamed("entry") {
		if r := e.child("resource"); r != nil {
			le := &linkedEntry{entry: e, res: r, fullURL: e.childValue("fullUrl")}
			if _, dup := byURL[le.fullURL]; le.fullURL != "" && !dup {
				byURL[le.fullURL] = len(list)
			}
			if k := r.typ + "/" + r.childValue("id"); !strings.HasSuffix(k, "/") {
				if _, dup := byTypeID[k]; !dup {
					byTypeID[k] = len(list)
				}
			}
			list = append(list, le)
		}
	}
	if len(list) == 0 {
		return
	}
	for i, le := range list {
		for _, ref := range linkRefs(le.res) {
			if t, ok := resolveLink(le, ref, byURL, byTypeID); ok && t != i {
				le.targets = append(le.targets, t)
				list[t].sources = append(list[t].sources, i)
			}
		}
	}
	visited := make([]bool, len(list))
	queue := []int{0}
	visited[0] = true
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, t := range list[v].targets { // forwards
			if !visited[t] {
				visited[t] = true
				queue = append(queue, t)
			}
		}
		for _, s := range list[v].sources { // an entry pointing at a reached one
			if !visited[s] {
				visited[s] = true
				queue = append(queue, s)
				if list[s].res.typ != "Provenance" {
					c.is.add(list[s].entry, SeverityWarning, CodeInvalid, fmt.Sprintf(msgEntryReverse, quotedURL(list[s].fullURL)))
				}
			}
		}
	}
	for i, le := range list {
		if !visited[i] {
			c.is.add(le.entry, SeverityWarning, CodeInformational, fmt.Sprintf(msgEntryOrphan, quotedURL(le.fullURL)))
		}
	}
}

func quotedURL(u string) string {
	if u == "" {
		return ""
	}
	return "'" + u + "'"
}

// noLinkPaths are the uri elements that name things other than resources.
var noLinkPaths = map[string]bool{"system": true, "profile": true, "url": true, "endpoint": true, "address": true}

// linkRefs lists the references a resource makes: Reference.reference (not to contained
// resources) and uri/url values, except systems, profiles, extension URLs and endpoints.
func linkRefs(r *node) []string {
	var refs []string
	seen := map[string]bool{}
	walkNodes(r, func(n *node) bool {
		if n != r && n.resource && n.typ == "Bundle" {
			return false
		}
		v := ""
		switch {
		case n.typ == "Reference":
			v = n.childValue("reference")
		case (n.typ == "uri" || n.typ == "url") && !noLinkPaths[n.name]:
			v = n.value
		}
		if v != "" && v[0] != '#' && !seen[v] {
			seen[v] = true
			refs = append(refs, v)
		}
		return true
	})
	return refs
}

// resolveLink finds the entry ref points to, from entry le.
func resolveLink(le *linkedEntry, ref string, byURL, byTypeID map[string]int) (int, bool) {
	if strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:") {
		t, ok := byURL[ref]
		return t, ok
	}
	parts := strings.SplitN(ref, "/", 3)
	if len(parts) < 2 {
		return 0, false
	}
	if tail := le.res.typ + "/" + le.res.childValue("id"); le.fullURL != "" && strings.HasSuffix(le.fullURL, tail) {
		t, ok := byURL[le.fullURL[:len(le.fullURL)-len(tail)]+ref]
		return t, ok
	}
	t, ok := byTypeID[parts[0]+"/"+parts[1]]
	return t, ok
}
