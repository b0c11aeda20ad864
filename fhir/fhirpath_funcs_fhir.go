package fhir

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The functions FHIR R4 adds to FHIRPath (http://hl7.org/fhir/R4/fhirpath.html#functions).

func fpFHIRFuncs() map[string]fpFunc {
	return map[string]fpFunc{
		"extension": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			u, ok, err := e.argString(x, focus, 0)
			if err != nil || !ok {
				return nil, err
			}
			var out []item
			for _, ext := range fpMember(in, "extension") {
				if ext.n.childValue("url") == u {
					out = append(out, ext)
				}
			}
			return out, nil
		},
		"hasExtension": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			u, _, err := e.argString(x, focus, 0)
			if err != nil {
				return nil, err
			}
			for _, ext := range fpMember(in, "extension") {
				if u == "" || ext.n.childValue("url") == u {
					return boolColl(true), nil
				}
			}
			return boolColl(false), nil
		},
		"hasValue": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			return boolColl(len(in) == 1 && in[0].n != nil && in[0].n.hasValue), nil
		},
		"getValue": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			var out []item
			for _, it := range in {
				if it.n != nil && it.n.hasValue {
					p, _ := prim(it)
					out = append(out, p)
				}
			}
			return out, nil
		},
		"resolve":    (*fpEnv).resolve,
		"conformsTo": (*fpEnv).conformsTo,
		"htmlChecks": htmlChecksFn, "htmlchecks": htmlChecksFn,
		"checkModifiers":    (*fpEnv).checkModifiers,
		"elementDefinition": (*fpEnv).elementDefinition,
		"slice":             (*fpEnv).slice,
		"subsumes":          subsumesFn, "subsumedBy": subsumesFn,
	}
}

func (e *fpEnv) resolve(x *fpNode, in, focus []item) ([]item, error) {
	if e.c == nil {
		return nil, nil
	}
	var out []item
	for _, it := range in {
		ref := ""
		if it.n != nil && it.n.typ == "Reference" {
			ref = it.n.childValue("reference")
		} else if p, ok := prim(it); ok && p.k == kString {
			ref = p.s
		}
		t := e.c.resolveRef(ref, it.n)
		if t == nil {
			t = e.c.context.resolve(ref) // Options.Context: other resources given
		}
		if t != nil {
			out = append(out, item{n: t})
		}
	}
	return out, nil
}

func (e *fpEnv) conformsTo(x *fpNode, in, focus []item) ([]item, error) {
	u, ok, err := e.argString(x, focus, 0)
	if err != nil || !ok {
		return nil, err
	}
	it, ok, err := single(x, in)
	if !ok || err != nil || it.n == nil {
		return nil, err
	}
	if e.c == nil {
		return nil, fmt.Errorf("conformsTo(): %w", errUnsupported)
	}
	res, err := e.c.conformsTo(it.n, u, e.pkg)
	if err != nil {
		return nil, err
	}
	return boolColl(res), nil
}

func htmlChecksFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return boolColl(false), err
	}
	return boolColl(htmlChecks(it.n)), nil
}

// checkModifiers returns its input when every modifierExtension is one of the given URLs,
// and fails otherwise.
func (e *fpEnv) checkModifiers(x *fpNode, in, focus []item) ([]item, error) {
	allowed := map[string]bool{}
	for i := range x.args {
		v, err := e.arg(x, focus, i)
		if err != nil {
			return nil, err
		}
		for _, it := range v {
			if p, ok := prim(it); ok {
				allowed[p.s] = true
			}
		}
	}
	for _, m := range fpMember(in, "modifierExtension") {
		if u := m.n.childValue("url"); !allowed[u] {
			return nil, fmt.Errorf("unknown modifier extension %s", u)
		}
	}
	return in, nil
}

// slice(structure, name) keeps the input items that fall in the named slice of a profile.
func (e *fpEnv) slice(x *fpNode, in, focus []item) ([]item, error) {
	u, ok1, err := e.argString(x, focus, 0)
	if err != nil {
		return nil, err
	}
	name, ok2, err := e.argString(x, focus, 1)
	if err != nil || !ok1 || !ok2 {
		return nil, err
	}
	if e.c == nil {
		return nil, fmt.Errorf("slice(): %w", errUnsupported)
	}
	p, err := e.c.v.profileByURL(u, e.pkg)
	if err != nil {
		return nil, fmt.Errorf("slice(): %v: %w", err, errNotChecked)
	}
	base, s := findSlice(p.root, name)
	if s == nil {
		return nil, fmt.Errorf("slice(): %s has no slice %s", u, name)
	}
	var out []item
	for _, it := range in {
		if it.n == nil {
			continue
		}
		ok, err := e.c.inSlice(it.n, s, base)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// findSlice finds the slice called name under d: (the sliced element, the slice).
func findSlice(d *elemDef, name string) (*elemDef, *elemDef) {
	for _, s := range d.slices {
		if s.sliceName == name && d.slicing != nil {
			return d, s
		}
	}
	for _, group := range [][]*elemDef{d.children, d.slices} {
		for _, c := range group {
			if b, s := findSlice(c, name); s != nil {
				return b, s
			}
		}
	}
	return nil, nil
}

// subsumesFn is subsumes(code) and subsumedBy(code) on Codings or CodeableConcepts, by the
// hierarchy of a held CodeSystem: whether one of the input's codes is the argument's or
// above it (subsumedBy: below it).
func subsumesFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return nil, err
	}
	o, err := e.arg(x, focus, 0)
	if err != nil || len(o) == 0 {
		return nil, err
	}
	if len(o) > 1 {
		return nil, fmt.Errorf("%s() needs one coding to compare with", x.name)
	}
	if e.c == nil || e.c.v == nil || e.c.v.term == nil {
		return nil, fmt.Errorf("%s(): %w", x.name, errUnsupported)
	}
	for _, a := range codings(it) {
		for _, b := range codings(o[0]) {
			if a[0] != b[0] {
				continue
			}
			cs, ix := e.c.v.term.codeSystemFor(a[0], e.pkg)
			if cs == nil {
				return nil, fmt.Errorf("%s(): code system %s: %w", x.name, a[0], errNotChecked)
			}
			anc, code := a[1], b[1]
			if x.name == "subsumedBy" {
				anc, code = code, anc
			}
			if ix.subsumes(anc, code) {
				return boolColl(true), nil
			}
		}
	}
	return boolColl(false), nil
}

// codings lists the (system, code) pairs of a Coding or CodeableConcept.
func codings(it item) [][2]string {
	if it.n == nil {
		return nil
	}
	list := []*node{it.n}
	if it.n.typ == "CodeableConcept" {
		list = it.n.childrenNamed("coding")
	}
	var out [][2]string
	for _, c := range list {
		if sys, code := c.childValue("system"), c.childValue("code"); sys != "" && code != "" {
			out = append(out, [2]string{sys, code})
		}
	}
	return out
}

// clock is the time now() and friends answer, fixed for one evaluation.
func (e *fpEnv) clock() time.Time {
	if e.now.IsZero() {
		e.now = time.Now()
	}
	return e.now
}

// htmlChecks is the narrative check behind txt-1: a div in the XHTML namespace, with no
// script, form, object or event-handler content.
func htmlChecks(n *node) bool {
	if n == nil || !n.hasValue {
		return false
	}
	s := strings.TrimSpace(n.value)
	if !strings.HasPrefix(s, "<div") || !strings.HasSuffix(s, "</div>") && !strings.HasSuffix(s, "/>") {
		return false
	}
	if !strings.Contains(s[:strings.IndexByte(s, '>')+1], "http://www.w3.org/1999/xhtml") {
		return false
	}
	low := strings.ToLower(s)
	for _, bad := range []string{"<script", "<form", "<object", "<embed", "<iframe", "<applet", "<base", "<link", "<meta", "<style", "javascript:"} {
		if strings.Contains(low, bad) {
			return false
		}
	}
	return !onAttr.MatchString(low)
}

var onAttr = regexp.MustCompile(`<[^>]*\son[a-z]+\s*=`)
