package fhir

import (
	"fmt"
	"regexp"
	"strings"
)

// References inside a Bundle: resolved by entry fullUrl, or by Type/id against the entries'
// resources; contained resources by #id. A resolved target is checked against the
// referring element's targetProfile choices.

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

// reference checks a Reference element against the element's target profiles.
func (c *vctx) reference(n *node, d *elemDef) {
	ref := n.childValue("reference")
	if ref == "" {
		return
	}
	var targets []string
	bundled := false
	for _, tr := range d.types {
		if tr.code == "Reference" {
			targets = append(targets, tr.targets...)
			bundled = bundled || tr.bundled
		}
	}
	target := c.resolveRef(ref, n)
	if target == nil {
		// Outside a Bundle only a local (#id) reference can be looked for: the IG Publisher
		// does not report a bundled-only reference of a lone resource.
		if bundled && (c.bundle != nil || strings.HasPrefix(ref, "#")) {
			c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Bundled or contained reference not found within the bundle/resource %s", ref))
		}
		if !strings.HasPrefix(ref, "#") && !strings.Contains(ref, ":") && !strings.Contains(ref, "?") && !reRelativeRef.MatchString(ref) {
			c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Relative URLs must be of the format [ResourceName]/[id].  Encountered %s", ref))
		}
		return
	}
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
	if len(candidates) == 0 {
		if len(types) > 0 {
			c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Invalid Resource target type. Found %s, but expected one of (%s)", target.typ, strings.Join(dedupe(types), ", ")))
		}
		return
	}
	if anyBase {
		return
	}
	for _, p := range candidates {
		if c.conforms(target, p) {
			return
		}
	}
	c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Unable to find a match for profile %s among choices: %s", ref, strings.Join(targets, ", ")))
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
