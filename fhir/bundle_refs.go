package fhir

import (
	"fmt"
	"regexp"
	"strings"
)

// References inside a Bundle, resolved by the rules of the HL7 validator's getFromBundle:
// an absolute reference (http…, urn…) names an entry's fullUrl; a relative one is resolved
// against the base of the referring entry's fullUrl (its part before [type]/[id], or the
// "urn:uuid:" prefix); "/_history/N" picks the entry whose meta.versionId is N.

const (
	msgFullURLMissing  = "Relative Reference appears inside Bundle whose entry is missing a fullUrl"                                                // Bundle_BUNDLE_FullUrl_Missing
	msgRefQueryInvalid = "The query part of the conditional reference is not a valid query string (%s)"                                             // REFERENCE_REF_QUERY_INVALID
	msgRefFormat1      = "Relative URLs must be of the format [ResourceName]/[id], or a search URL is allowed ([type]?parameters.  Encountered %s)" // Reference_REF_Format1
	msgRefFormat2      = "Relative URLs must be of the format [ResourceName]/[id].  Encountered %s"                                                 // Reference_REF_Format2
	msgMultiMatch      = "Multiple matches in bundle for reference %s"                                                                              // Bundle_BUNDLE_MultipleMatches
	msgNeedVersion     = "Entries matching fullURL %s should declare meta/versionId because there are version-specific references"                  // Bundle_BUNDLE_FullUrl_NeedVersion
	msgRefResType      = "Matching reference for reference %s has resourceType %s"                                                                  // Reference_REF_ResourceType
	msgNotLocal        = "URN reference is not locally contained within the bundle %s"                                                              // Bundle_BUNDLE_Not_Local
	msgEntryFoundMulti = "Found %d matches for '%s' in the bundle (%s)"                                                                             // BUNDLE_BUNDLE_ENTRY_FOUND_MULTIPLE
	msgEntryNotFound   = "Can't find '%s' in the bundle (%s)"                                                                                       // Bundle_BUNDLE_Entry_NotFound
)

// bundleEntryIndex holds a Bundle's entry resources by fullUrl, and by fullUrl and
// meta.versionId, counting duplicates (which make a reference ambiguous), so that each
// reference is resolved in constant time.
type bundleEntryIndex struct {
	typ       string
	byFullURL map[string]urlEntries // fullUrl, or fullUrl|versionId
	noVersion map[string]bool       // fullUrls with an entry lacking meta.versionId
}

// urlEntries is the last entry resource with a given URL and how many have it.
type urlEntries struct {
	last  *node
	count int
}

func newBundleEntryIndex(root *node) *bundleEntryIndex {
	x := &bundleEntryIndex{typ: root.childValue("type"), byFullURL: map[string]urlEntries{}, noVersion: map[string]bool{}}
	for _, e := range root.childrenNamed("entry") {
		r, fu := e.child("resource"), e.childValue("fullUrl")
		if r == nil || fu == "" {
			continue
		}
		x.add(fu, r)
		if vid := r.child("meta").childValue("versionId"); vid != "" {
			x.add(fu+"|"+vid, r)
		} else {
			x.noVersion[fu] = true
		}
	}
	return x
}

func (x *bundleEntryIndex) add(key string, r *node) {
	u := x.byFullURL[key]
	x.byFullURL[key] = urlEntries{last: r, count: u.count + 1}
}

func (x *bundleEntryIndex) transactional() bool {
	return x.typ == "transaction" || x.typ == "batch" || x.typ == "transaction-response" || x.typ == "batch-response"
}

// reSearchQuery is a search URL's query: name=value pairs joined by &, where a name may carry
// a modifier or a chain and a value may be empty.
var reSearchQuery = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9.:\-]*=[^&]*(&[_a-zA-Z][_a-zA-Z0-9.:\-]*=[^&]*)*$`)

// searchURL tells a conditional reference, [type]?name=value&…: typed is true when ref is a
// resource type followed by a query, and valid when that query is well formed too.
func (c *vctx) searchURL(ref string) (typed, valid bool) {
	i := strings.IndexByte(ref, '?')
	if i < 0 {
		return false, false
	}
	if _, ok := c.v.types[ref[:i]]; !ok || !isResourceName(ref[:i]) {
		return false, false
	}
	return true, reSearchQuery.MatchString(ref[i+1:])
}

// targetURL works out the fullUrl a reference made in an entry with fullUrl fu points to,
// with the version asked for and the resource type the reference names (when it must be
// checked). ok is false when there is nothing to look up (the problem is reported at at).
func (c *vctx) targetURL(x *bundleEntryIndex, ref, fu string, at *node) (target, version, rtype string, ok bool) {
	if strings.HasPrefix(ref, "http") || strings.HasPrefix(ref, "urn") {
		if i := strings.Index(ref, "/_history/"); i >= 0 {
			return ref[:i], ref[i+len("/_history/"):], "", true
		}
		return ref, "", "", true
	}
	if fu == "" {
		if !x.transactional() && !strings.HasPrefix(at.location(), "Bundle.signature") {
			c.is.add(at, SeverityError, CodeRequired, msgFullURLMissing)
		}
		return "", "", "", false
	}
	parts := strings.Split(ref, "/")
	if len(parts) != 2 && len(parts) != 4 {
		switch {
		case x.typ == "transaction" || x.typ == "batch":
			if typed, valid := c.searchURL(ref); !valid {
				c.is.add(at, SeverityError, CodeInvalid, fmt.Sprintf(msgRefFormat1, ref))
				if typed {
					c.is.add(at, SeverityError, CodeStructure, fmt.Sprintf(msgRefQueryInvalid, ref))
				}
			}
		default:
			c.is.add(at, SeverityError, CodeInvalid, fmt.Sprintf(msgRefFormat2, ref))
		}
		return "", "", "", false
	}
	base := ""
	if strings.HasPrefix(fu, "urn") {
		base = fu[:strings.LastIndexByte(fu, ':')+1]
	} else if fp := strings.Split(fu, "/"); len(fp) > 2 {
		base = strings.Join(fp[:len(fp)-2], "/") + "/"
	}
	switch {
	case len(parts) == 4 && parts[2] == "_history":
		if strings.HasPrefix(base, "urn") {
			return base + parts[1], parts[3], parts[0], true
		}
		return base + parts[0] + "/" + parts[1], parts[3], parts[0], true
	case strings.HasPrefix(base, "urn"):
		return base + parts[1], "", parts[0], true
	}
	return base + ref, "", "", true
}

// fromBundle resolves ref, written in entry resource from (fullUrl fu), among the entries,
// reporting what the HL7 validator reports on the way; nil when not found.
func (c *vctx) fromBundle(x *bundleEntryIndex, ref, fu string, at *node) *node {
	target, version, rtype, ok := c.targetURL(x, ref, fu, at)
	if !ok {
		return nil
	}
	key := target
	if version != "" {
		key += "|" + version
		if x.noVersion[target] {
			c.is.add(at, SeverityWarning, CodeRequired, fmt.Sprintf(msgNeedVersion, target))
		}
	}
	m := x.byFullURL[key]
	if m.count > 1 {
		c.is.add(at, SeverityError, CodeForbidden, fmt.Sprintf(msgMultiMatch, ref))
	}
	match := m.last
	if match != nil && rtype != "" && match.typ != rtype {
		c.is.add(at, SeverityError, CodeRequired, fmt.Sprintf(msgRefResType, ref, match.typ))
	}
	if match == nil && strings.HasPrefix(ref, "urn") {
		c.is.add(at, SeverityWarning, CodeRequired, fmt.Sprintf(msgNotLocal, ref))
	}
	return match
}

// bundleReferences resolves every literal reference made inside the Bundle's entries (their
// resources, contained ones included; not inside a nested Bundle).
func (c *vctx) bundleReferences(root *node, x *bundleEntryIndex) {
	for _, e := range root.childrenNamed("entry") {
		r := e.child("resource")
		if r == nil {
			continue
		}
		fu := e.childValue("fullUrl")
		walkNodes(r, func(n *node) bool {
			if n != r && n.resource && n.typ == "Bundle" {
				return false
			}
			if n.typ == "Reference" {
				if ref := n.childValue("reference"); ref != "" && !strings.HasPrefix(ref, "#") {
					c.fromBundle(x, ref, fu, n)
				}
			}
			return true
		})
	}
}

// walkNodes visits n and its descendants in document order while visit says to go on
// into a node's children (an explicit stack: no recursion, however deep the tree).
func walkNodes(n *node, visit func(*node) bool) {
	stack := []*node{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !visit(x) {
			continue
		}
		for i := len(x.children) - 1; i >= 0; i-- {
			stack = append(stack, x.children[i])
		}
	}
}
