package fhir

import (
	"fmt"
	"strconv"
	"strings"
)

// Element-level checks: fixed[x]/pattern[x], terminology bindings and invariants.

// fixedValue checks n against a fixed (exact) or pattern (at least these) value.
func (c *vctx) fixedValue(n *node, want *jsonNode, pattern bool, d *elemDef) {
	kind := "fixed value"
	if pattern {
		kind = "pattern"
	}
	switch want.kind {
	case jsonObject:
		if want.get("coding") != nil || (want.get("system") != nil && want.get("code") != nil) {
			// Coding / CodeableConcept: one message naming the expected code, like HL7's
			// "The pattern [system …, code …] defined in the profile … not found".
			if !matchValue(n, want, pattern) {
				sys, code := want.str("system"), want.str("code")
				if cs := want.get("coding"); cs != nil && cs.kind == jsonArray && len(cs.items) > 0 {
					sys, code = cs.items[0].str("system"), cs.items[0].str("code")
				}
				c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("The %s [system %s, code %s] defined in the profile %s not found", kind, sys, code, d.prof.url))
			}
			return
		}
		for _, p := range want.props {
			kids := n.childrenNamed(p.name)
			if p.value.kind == jsonArray {
				for _, w := range p.value.items {
					found := false
					for _, k := range kids {
						if matchValue(k, w, pattern) {
							found = true
							break
						}
					}
					if !found {
						c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("Missing element '%s' - required by %s assigned in profile %s", p.name, kind, d.prof.url))
					}
				}
				if !pattern && len(kids) != len(p.value.items) {
					c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("Expected %d but found %d %s elements", len(p.value.items), len(kids), p.name))
				}
				continue
			}
			if len(kids) == 0 {
				c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("Missing element '%s' - required by %s assigned in profile %s", p.name, kind, d.prof.url))
				continue
			}
			c.fixedValue(kids[0], p.value, pattern, d)
		}
		if !pattern {
			for _, k := range n.children {
				if k.name != "id" && want.get(k.name) == nil {
					c.is.add(k, SeverityError, CodeValue, fmt.Sprintf("The element %s is present in the instance but not allowed in the applicable fixed value specified in profile", k.name))
				}
			}
		}
	default:
		if !n.hasValue || !primitiveEqual(n, want) {
			c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("Value is '%s' but must be '%s'", n.value, want.text))
		}
	}
}

// matchValue tells, silently, whether n carries want (exactly when !pattern).
func matchValue(n *node, want *jsonNode, pattern bool) bool {
	switch want.kind {
	case jsonObject:
		for _, p := range want.props {
			kids := n.childrenNamed(p.name)
			items := []*jsonNode{p.value}
			if p.value.kind == jsonArray {
				items = p.value.items
				if !pattern && len(kids) != len(items) {
					return false
				}
			}
			for _, w := range items {
				found := false
				for _, k := range kids {
					if matchValue(k, w, pattern) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
		}
		if !pattern {
			for _, k := range n.children {
				if k.name != "id" && want.get(k.name) == nil {
					return false
				}
			}
		}
		return true
	case jsonArray:
		return false
	}
	return n.hasValue && primitiveEqual(n, want)
}

func primitiveEqual(n *node, want *jsonNode) bool {
	if want.kind == jsonNumber {
		a, err1 := strconv.ParseFloat(n.value, 64)
		b, err2 := strconv.ParseFloat(want.text, 64)
		return err1 == nil && err2 == nil && a == b
	}
	return n.value == want.text
}

// binding checks a coded element against its ValueSet: required → error, extensible →
// warning, preferred/example → nothing. Codes whose system is not held → information.
func (c *vctx) binding(n *node, d *elemDef) {
	strength := d.binding.Strength
	if strength != "required" && strength != "extensible" {
		return
	}
	vsURL := stripVersion(d.binding.ValueSet)
	sev := SeverityError
	should := "a code is required from this value set"
	if strength == "extensible" {
		sev = SeverityWarning
		should = "a code should come from this value set unless it has no suitable code (note that the validator cannot judge what is suitable)"
	}
	exp := c.v.term.expand(vsURL, d.prof.pkg)
	if exp.err != nil {
		c.is.add(n, SeverityWarning, CodeNotFound, exp.err.Error())
		return
	}
	switch n.typ {
	case "code", "string", "uri":
		if !n.hasValue {
			return
		}
		switch v := exp.check("", n.value); v.state {
		case triUnknown:
			c.notChecked(n, v, n.value, vsURL, fmt.Sprintf("The value provided ('%s') could not be validated against the value set '%s': a code system it uses is not held by the validator", n.value, vsURL))
		case triNo:
			c.is.add(n, sev, CodeCodeInvalid, fmt.Sprintf("The value provided ('%s') is not in the value set '%s', and %s", n.value, vsURL, should))
		}
	case "Coding":
		c.coding(n, exp, vsURL, sev, should)
	case "CodeableConcept":
		codings := n.childrenNamed("coding")
		if len(codings) == 0 {
			if strength == "required" {
				c.is.add(n, SeverityError, CodeCodeInvalid, fmt.Sprintf("No code provided, and a code is required from the value set '%s'", vsURL))
			}
			return
		}
		if len(codings) == 1 {
			c.coding(codings[0], exp, vsURL, sev, should)
			return
		}
		var codes []string
		unknown := true
		for _, cd := range codings {
			sys, code := cd.childValue("system"), cd.childValue("code")
			in, known := exp.contains(sys, code)
			if in {
				return
			}
			unknown = unknown && !known
			codes = append(codes, sys+"#"+code)
		}
		if unknown {
			c.is.add(n, SeverityInformation, CodeNotSupported, fmt.Sprintf("The codes provided (%s) could not be validated against the value set '%s': their code systems are not held by the validator", strings.Join(codes, ", "), vsURL))
			return
		}
		c.is.add(n, sev, CodeCodeInvalid, fmt.Sprintf("None of the codings provided are in the value set '%s', and %s (codes = %s)", vsURL, strings.Replace(should, "a code", "a coding", 1), strings.Join(codes, ", ")))
	case "Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count":
		if code := n.childValue("code"); code != "" {
			if in, known := exp.contains(n.childValue("system"), code); known && !in {
				c.is.add(n, sev, CodeCodeInvalid, fmt.Sprintf("The Coding provided (%s#%s) is not in the value set '%s', and %s", n.childValue("system"), code, vsURL, should))
			}
		}
	}
}

func (c *vctx) coding(n *node, exp *expansion, vsURL, sev, should string) {
	sys, code := n.childValue("system"), n.childValue("code")
	if code == "" {
		return
	}
	switch v := exp.check(sys, code); v.state {
	case triYes:
		c.checkDisplay(n, sys, code, vsURL)
	case triUnknown:
		c.notChecked(n, v, code, vsURL, fmt.Sprintf("Code System URI '%s' is unknown so the code cannot be validated (%s#%s against the value set '%s')", sys, sys, code, vsURL))
	default:
		msg := fmt.Sprintf("The Coding provided (%s#%s) is not in the value set '%s', and %s", sys, code, vsURL, should)
		if valid, held := c.v.term.codeKnown(sys, code, nil); held && !valid {
			msg += fmt.Sprintf(" (error message = Unknown code '%s' in the CodeSystem '%s')", code, sys)
		}
		c.is.add(n, sev, CodeCodeInvalid, msg)
	}
}

// memberOf implements FHIRPath memberOf(): (in, known). The ValueSet is looked up from the
// package of the definition holding the expression.
func (c *vctx) memberOf(it item, url string, from *Package) (bool, bool, error) {
	exp := c.v.term.expand(url, from)
	if exp.err != nil {
		return false, false, nil
	}
	if it.n == nil {
		p, _ := prim(it)
		in, known := exp.contains("", p.s)
		return in, known, nil
	}
	n := it.n
	switch n.typ {
	case "Coding":
		in, known := exp.contains(n.childValue("system"), n.childValue("code"))
		return in, known || in, nil
	case "CodeableConcept":
		allKnown := true
		for _, cd := range n.childrenNamed("coding") {
			in, known := exp.contains(cd.childValue("system"), cd.childValue("code"))
			if in {
				return true, true, nil
			}
			allKnown = allKnown && known
		}
		return false, allKnown, nil
	}
	if n.hasValue {
		in, known := exp.contains("", n.value)
		return in, known || in, nil
	}
	return false, true, nil
}

// invariants evaluates the constraints of d on n. ele-1 and ext-1 are checked natively (they
// are on every element); every other expression goes through the FHIRPath evaluator. An
// expression that cannot be evaluated is reported as a warning, never passed silently.
func (c *vctx) invariants(n *node, d *elemDef) {
	for _, inv := range d.invs {
		k := invKey{n, inv.Key + "\x00" + inv.Expression}
		if c.invDone[k] {
			continue
		}
		c.invDone[k] = true
		c.invariant(n, inv, d.prof)
	}
}

// typeInvariants evaluates the invariants on the root of n's base type (per-1 on Period,
// ref-1 on Reference…) once per node, whatever profile expands the element.
func (c *vctx) typeInvariants(n *node) {
	if c.typeInvDone[n] {
		return
	}
	c.typeInvDone[n] = true
	if bp := c.v.baseProfile(n.typ); bp != nil {
		c.invariants(n, bp.root)
	}
}

func (c *vctx) invariant(n *node, inv *invariant, prof *profile) {
	profURL, pkg := prof.url, prof.pkg
	var ok bool
	switch inv.Key {
	case "ele-1":
		// An empty JSON object is reported once, by the parser ("Object must have some
		// content"), as the HL7 validator does; empty primitives get ele-1 as well.
		empty := !isPrimitive(n.typ) && len(n.children) == 0
		ok = n.hasValue || len(withoutIDs(n.children)) > 0 || n.resource || empty
	case "dom-6":
		// Contained resources are described by their container's narrative.
		if n.resource && n.name == "contained" {
			return
		}
		ok = n.child("text").child("div") != nil
	case "ext-1":
		hasExt, hasVal := false, false
		for _, ch := range n.children {
			hasExt = hasExt || ch.name == "extension"
			hasVal = hasVal || ch.name == "value"
		}
		ok = hasExt != hasVal
	default:
		if inv.err != nil {
			c.is.add(n, SeverityWarning, CodeInvariant, fmt.Sprintf("Constraint %s could not be evaluated (expression %s): %v", inv.Key, inv.Expression, inv.err))
			return
		}
		res := n.resourceRoot()
		root := res
		for root != nil && root.name == "contained" && root.parent != nil {
			root = root.parent.resourceRoot()
		}
		env := &fpEnv{c: c, pkg: pkg, resource: res, root: root, context: n, this: []item{{n: n}}}
		v, err := env.eval(inv.expr, env.this)
		var b, known bool
		if err == nil {
			b, known, err = boolOf(v)
		}
		if err != nil {
			c.is.add(n, SeverityWarning, CodeInvariant, fmt.Sprintf("Constraint %s could not be evaluated (expression %s): %v", inv.Key, inv.Expression, err))
			return
		}
		ok = known && b
	}
	if ok {
		return
	}
	sev := SeverityError
	if inv.Severity == "warning" {
		sev = SeverityWarning
	}
	src := inv.Source
	if src == "" {
		src = profURL
	}
	c.is.add(n, sev, CodeInvariant, fmt.Sprintf("Constraint failed: %s: '%s' (defined in %s)", inv.Key, inv.Human, src))
}
