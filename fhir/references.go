package fhir

import (
	"fmt"
	"regexp"
	"strings"
)

// Reference elements: resolved inside a Bundle by entry fullUrl, or by Type/id against the
// entries' resources, and to contained resources by #id; a resolved target is checked
// against the element's target profiles, and how the reference is held (contained, bundled,
// remote) against the element's aggregation modes.

type bundleIndex struct {
	byFullURL map[string]*node
	byTypeID  map[string]*node
	fullURLOf map[*node]string
}

func indexBundle(root *node) *bundleIndex {
	b := &bundleIndex{byFullURL: map[string]*node{}, byTypeID: map[string]*node{}, fullURLOf: map[*node]string{}}
	for _, e := range root.childrenNamed("entry") {
		r := e.child("resource")
		if r == nil {
			continue
		}
		if fu := e.childValue("fullUrl"); fu != "" {
			b.byFullURL[fu] = r
			b.fullURLOf[r] = fu
		}
		if id := r.childValue("id"); id != "" {
			if _, dup := b.byTypeID[r.typ+"/"+id]; !dup {
				b.byTypeID[r.typ+"/"+id] = r
			}
		}
	}
	return b
}

var reRelativeRef = regexp.MustCompile(`^([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?$`)

// resolveRef finds the resource a literal reference points to, from node from.
func (c *vctx) resolveRef(ref string, from *node) *node {
	if ref == "" {
		return nil
	}
	if strings.HasPrefix(ref, "#") {
		res := from.resourceRoot()
		if res == nil {
			return nil
		}
		// Contained resources live in the containing resource.
		container := res
		if res.name == "contained" && res.parent != nil {
			container = res.parent.resourceRoot()
		}
		if ref == "#" {
			return container
		}
		for _, ct := range container.childrenNamed("contained") {
			if ct.childValue("id") == ref[1:] {
				return ct
			}
		}
		return nil
	}
	if c.bundle == nil {
		return nil
	}
	if t := c.bundle.byFullURL[ref]; t != nil {
		return t
	}
	if m := reRelativeRef.FindStringSubmatch(ref); m != nil {
		// Relative to the referring entry's base when its fullUrl is absolute.
		if res := from.resourceRoot(); res != nil {
			if fu := c.bundle.fullURLOf[topResource(res)]; strings.Contains(fu, "://") {
				if i := strings.LastIndex(fu, "/"+topResource(res).typ+"/"); i >= 0 {
					if t := c.bundle.byFullURL[fu[:i+1]+m[1]+"/"+m[2]]; t != nil {
						return t
					}
				}
			}
		}
		return c.bundle.byTypeID[m[1]+"/"+m[2]]
	}
	return nil
}

func topResource(n *node) *node {
	for n.name == "contained" && n.parent != nil {
		n = n.parent.resourceRoot()
	}
	return n
}

const (
	msgRefAggregation  = "Reference is %s which isn't supported by the specified aggregation mode(s) for the reference (%s)" // Reference_REF_Aggregation
	msgRefNotFoundBndl = "Bundled or contained reference not found within the bundle/resource %s"                            // Reference_REF_NotFound_Bundle
	msgRefCantMatch    = "Unable to find a match for profile %s among choices: %s"                                           // Reference_REF_CantMatchChoice
	msgRefBadTarget    = "Invalid Resource target type. Found %s, but expected one of (%s)"                                  // Reference_REF_BadTargetType
)

// reference checks a Reference element as the HL7 validator's checkReference does: the
// target against the element's target profiles, then how the reference is held against the
// aggregation modes the element allows.
func (c *vctx) reference(n *node, d *elemDef) {
	ref := n.childValue("reference")
	if ref == "" {
		return
	}
	var targets, modes []string
	for _, tr := range d.types {
		if tr.code == "Reference" {
			targets = append(targets, tr.targets...)
			modes = append(modes, tr.aggr...)
		}
	}
	target := c.resolveRef(ref, n)
	switch {
	case target != nil:
		c.targetProfiles(n, d, ref, target, targets)
		held := "bundled" // another entry of the Bundle
		if strings.HasPrefix(ref, "#") {
			held = "contained"
		}
		c.aggregation(n, held, modes)
	case c.bundle == nil && !strings.HasPrefix(ref, "#"):
		// A lone resource's reference to another one: the IG Publisher resolves it among the
		// IG's resources, so it is a remote reference, held as such against the modes.
		c.aggregation(n, "remote", modes)
	case len(modes) > 0 && !hasString(modes, "referenced"):
		// Looked for in the Bundle or among the contained resources, and not there.
		c.is.add(n, SeverityError, CodeRequired, fmt.Sprintf(msgRefNotFoundBndl, ref))
	}
	if target == nil && !strings.HasPrefix(ref, "#") && !strings.Contains(ref, ":") && !strings.Contains(ref, "?") && !reRelativeRef.MatchString(ref) {
		c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf(msgRefFormat2, ref))
	}
}

// aggregation reports a reference held (contained, bundled or remote) in a way none of the
// element's aggregation modes allows: contained allows a contained target, bundled one in
// the Bundle, referenced any that is not contained. No modes: anything goes.
func (c *vctx) aggregation(n *node, held string, modes []string) {
	if len(modes) == 0 {
		return
	}
	for _, m := range modes {
		if m == held || (m == "referenced" && held != "contained") {
			return
		}
	}
	c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf(msgRefAggregation, held, strings.Join(modes, ", ")))
}

// targetProfiles checks a resolved target against the element's target profiles. With
// choices, one of them must fit ("among choices" otherwise). With one profile there is no
// choice to report on: the target is validated against it and its own issues are reported
// where they are (HAPI, showing the messages from references: no issue at the reference,
// the target's errors once, merged with those its own validation gives).
func (c *vctx) targetProfiles(n *node, d *elemDef, ref string, target *node, targets []string) {
	if len(targets) == 0 {
		return
	}
	var candidates []*profile
	var types []string
	anyBase := false
	for _, u := range targets {
		p, err := c.v.profileByURL(u, d.prof.pkg)
		if err != nil {
			c.is.add(n, SeverityWarning, CodeProcessing, fmt.Sprintf("Unable to resolve the profile reference '%s'", u))
			continue
		}
		types = append(types, p.sd.Type)
		if p.sd.Type != target.typ && p.sd.Type != "Resource" {
			continue
		}
		if p.sd.Derivation != "constraint" {
			anyBase = true
		}
		candidates = append(candidates, p)
	}
	switch {
	case len(candidates) == 0:
		if len(types) > 0 {
			c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf(msgRefBadTarget, target.typ, strings.Join(dedupe(types), ", ")))
		}
	case anyBase:
	case len(targets) == 1:
		c.targetValidated(target, candidates[0])
	default:
		for _, p := range candidates {
			if c.conforms(target, p) {
				return
			}
		}
		c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf(msgRefCantMatch, ref, strings.Join(targets, ", ")))
	}
}

// targetValidated validates a reference's target against its one target profile, once,
// reporting the target's issues at the target. While a candidate is being tried, only
// whether the target fits counts. Within a FHIRPath conformsTo() the target is not
// followed: the HL7 validator checks that resource on its own node stack there.
func (c *vctx) targetValidated(target *node, p *profile) {
	switch {
	case c.isolated > 0:
	case c.is.mute > 0:
		if !c.conforms(target, p) {
			c.is.errs++
		}
	case !c.targetDone[confKey{n: target, p: p}]:
		c.targetDone[confKey{n: target, p: p}] = true
		c.element(target, p.root)
	}
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
