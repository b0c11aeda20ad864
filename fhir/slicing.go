package fhir

import (
	"fmt"
	"strings"
)

// Slicing: each repetition of a sliced element is assigned to the slice whose
// discriminators it meets (value, pattern, type, profile, exists), then slice cardinality,
// order and the open/closed rules are checked, and each item is validated against its slice.
// The items of a re-sliced slice (identifier:local with slices local/official…) are sliced
// again by the slice's own slicing.

func (c *vctx) sliced(n *node, d *elemDef, items []*node) {
	rules := d.slicing.Rules
	if rules == "" {
		rules = "open"
	}
	counts := make([]int, len(d.slices))
	last := -1 // slice index of the previous item, for ordered slicing
	seenUnmatched := false
	resliced := map[int][]*node{}
	for _, it := range items {
		idx := -1
		for i, s := range d.slices {
			ok, err := c.inSlice(it, s, d)
			if err != nil {
				c.is.add(it, SeverityWarning, CodeProcessing, fmt.Sprintf("Unable to evaluate the discriminator of slice %s: %v", s.id, err))
				continue
			}
			if ok {
				idx = i
				break
			}
		}
		if idx < 0 {
			idx = c.profileSliceByType(it, d)
		}
		if idx < 0 {
			switch rules {
			case "closed":
				c.is.add(it, SeverityError, CodeStructure, fmt.Sprintf("This element does not match any known slice defined in the profile %s and slicing is CLOSED", d.prof.url))
			case "openAtEnd":
				seenUnmatched = true
			}
			c.element(it, d)
			continue
		}
		if rules == "openAtEnd" && seenUnmatched {
			c.is.add(it, SeverityError, CodeStructure, fmt.Sprintf("As specified by profile %s, Element '%s' is out of order: slicing is open at the end only, and it follows an element that matches no slice", d.prof.url, d.name))
		}
		if d.slicing.Ordered && idx < last {
			c.is.add(it, SeverityError, CodeStructure, fmt.Sprintf("As specified by profile %s, Element '%s' is out of order in ordered slice", d.prof.url, d.name))
		}
		last = max(last, idx)
		counts[idx]++
		if s := d.slices[idx]; s.slicing != nil && len(s.slices) > 0 {
			resliced[idx] = append(resliced[idx], it) // re-sliced: its items are sliced again below
			continue
		}
		c.element(it, d.slices[idx])
	}
	c.cardinality(n, d, len(items))
	for i, s := range d.slices {
		if s.slicing != nil && len(s.slices) > 0 {
			c.sliced(n, s, resliced[i]) // checks the slice's cardinality too
			continue
		}
		c.cardinality(n, s, counts[i])
	}
}

// profileSliceByType helps when items are sliced by profile: an item that conforms to none
// is validated against the one slice whose profile is for its resource type, so the report
// says why it does not conform (rather than only that it matches no slice).
func (c *vctx) profileSliceByType(it *node, d *elemDef) int {
	if len(d.slicing.Discriminator) != 1 || d.slicing.Discriminator[0].Type != "profile" {
		return -1
	}
	found := -1
	for i, s := range d.slices {
		ok, err := c.discriminator(it, s, "type", d.slicing.Discriminator[0].Path)
		if err != nil || !ok {
			continue
		}
		if found >= 0 {
			return -1 // more than one candidate: no guess
		}
		found = i
	}
	return found
}

// inSlice tells whether item it meets all discriminators of slice s.
func (c *vctx) inSlice(it *node, s, base *elemDef) (bool, error) {
	if len(base.slicing.Discriminator) == 0 {
		return false, fmt.Errorf("slicing of %s has no discriminator", base.id)
	}
	for _, disc := range base.slicing.Discriminator {
		ok, err := c.discriminator(it, s, disc.Type, disc.Path)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (c *vctx) discriminator(it *node, s *elemDef, typ, path string) (bool, error) {
	path = strings.TrimSpace(path)
	var vals []*node
	if path == "$this" || path == "" {
		vals = []*node{it}
	} else {
		x, err := parseCachedFHIRPath(path)
		if err != nil {
			return false, fmt.Errorf("discriminator path %q: %v", path, err)
		}
		env := &fpEnv{c: c, pkg: s.prof.pkg, resource: it.resourceRoot(), root: it.resourceRoot(), context: it, this: []item{{n: it}}}
		v, err := env.eval(x, env.this)
		if err != nil {
			return false, fmt.Errorf("discriminator path %q: %v", path, err)
		}
		for _, i := range v {
			if i.n != nil {
				vals = append(vals, i.n)
			}
		}
	}
	defs := c.defsAtPath(s, path)
	switch typ {
	case "exists":
		if len(defs) == 0 {
			return false, fmt.Errorf("cannot find %s in slice %s", path, s.id)
		}
		if defs[0].min >= 1 {
			return len(vals) > 0, nil
		}
		if defs[0].max == 0 {
			return len(vals) == 0, nil
		}
		return false, fmt.Errorf("discriminator (%s) is based on element existence, but slice %s neither sets min>=1 or max=0", path, s.id)
	case "type":
		if len(defs) == 0 || len(defs[0].types) == 0 {
			return false, fmt.Errorf("discriminator (%s) is based on type, but slice %s has no types", path, s.id)
		}
		for _, v := range vals {
			for _, t := range defs[0].types {
				if v.typ == t.code {
					return true, nil
				}
			}
		}
		return false, nil
	case "profile":
		if len(defs) == 0 {
			return false, fmt.Errorf("cannot find %s in slice %s", path, s.id)
		}
		var urls []string
		for _, t := range defs[0].types {
			urls = append(urls, t.profiles...)
			if strings.HasSuffix(path, "resolve()") {
				urls = append(urls, t.targets...)
			}
		}
		if len(urls) == 0 {
			return false, fmt.Errorf("profile based discriminators must have a type with a profile (%s in profile %s)", s.id, s.prof.url)
		}
		for _, v := range vals {
			for _, u := range urls {
				p, err := c.v.profileByURL(u, s.prof.pkg)
				if err != nil {
					return false, err
				}
				if p.sd.Type == v.typ && c.conforms(v, p) {
					return true, nil
				}
			}
		}
		return false, nil
	case "value", "pattern":
		if len(defs) == 0 {
			return false, fmt.Errorf("cannot find %s in slice %s", path, s.id)
		}
		d := defs[0]
		want, pattern := d.fixed, false
		if want == nil {
			want, pattern = d.pattern, true
		}
		if want == nil && path == "url" && s.typeRef("Extension") != nil && len(s.typeRef("Extension").profiles) > 0 {
			// Extension slices are discriminated by url: the extension definition's url.
			want = &jsonNode{kind: jsonString, text: stripVersion(s.typeRef("Extension").profiles[0])}
		}
		if want == nil {
			if d.binding != nil && d.binding.Strength == "required" && d.binding.ValueSet != "" {
				exp := c.v.term.expand(d.binding.ValueSet, d.prof.pkg)
				for _, v := range vals {
					sys, code := v.childValue("system"), v.childValue("code")
					if v.hasValue {
						sys, code = "", v.value
					}
					if in, _ := exp.contains(sys, code); in {
						return true, nil
					}
				}
				return false, nil
			}
			return false, fmt.Errorf("could not match discriminator (%s) for slice %s in profile %s - the discriminator does not have fixed value, binding or existence assertions", path, s.id, s.prof.url)
		}
		for _, v := range vals {
			if matchValue(v, want, pattern || typ == "pattern") {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("unknown discriminator type %q", typ)
}

// defsAtPath finds the element definitions a discriminator path points to inside slice s,
// following type profiles (extensions) where the slice itself has no children.
func (c *vctx) defsAtPath(s *elemDef, path string) []*elemDef {
	cur := []*elemDef{s}
	if path == "$this" || path == "" {
		return cur
	}
	for _, seg := range splitDiscPath(path) {
		var next []*elemDef
		for _, d := range cur {
			switch {
			case seg == "resolve()" || seg == "$this":
				next = append(next, d)
				continue
			case strings.HasPrefix(seg, "ofType(") || strings.HasPrefix(seg, "as("):
				next = append(next, d)
				continue
			case strings.HasPrefix(seg, "extension(") && strings.HasSuffix(seg, ")"):
				url := strings.Trim(seg[len("extension("):len(seg)-1], "'\"")
				for _, ch := range c.childDefs(d) {
					if ch.name != "extension" {
						continue
					}
					for _, sl := range ch.slices {
						if tr := sl.typeRef("Extension"); tr != nil && len(tr.profiles) > 0 && stripVersion(tr.profiles[0]) == url {
							next = append(next, sl)
						}
					}
				}
				continue
			}
			for _, ch := range c.childDefs(d) {
				if ch.name == seg {
					next = append(next, ch)
				}
			}
		}
		cur = next
	}
	return cur
}

// childDefs is d's children, or those of its type's profile or base definition.
func (c *vctx) childDefs(d *elemDef) []*elemDef {
	if len(d.children) > 0 {
		return d.children
	}
	if len(d.types) == 1 {
		if len(d.types[0].profiles) > 0 {
			if p, err := c.v.profileByURL(d.types[0].profiles[0], d.prof.pkg); err == nil {
				return p.root.children
			}
		}
		if bp := c.v.baseProfile(d.types[0].code); bp != nil {
			return bp.root.children
		}
	}
	return nil
}

// splitDiscPath splits a discriminator path on dots outside parentheses and quotes.
func splitDiscPath(p string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\'':
			inQuote = !inQuote
		case '(':
			if !inQuote {
				depth++
			}
		case ')':
			if !inQuote {
				depth--
			}
		case '.':
			if depth == 0 && !inQuote {
				out = append(out, p[start:i])
				start = i + 1
			}
		}
	}
	return append(out, p[start:])
}
