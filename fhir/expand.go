package fhir

import (
	"fmt"
)

// ValueSet compilation and membership, with the HL7 validator's semantics (its
// ValueSetValidator.codeInValueSet): a code is in the value set when an include holds it and
// no exclude does; an include with both valueSet and system holds the intersection; an
// include that cannot be evaluated makes the answer unknown unless another include holds
// the code. When the compose cannot be evaluated locally, a stored expansion
// (ValueSet.expansion.contains, nested) answers instead.

// expansion is a compiled ValueSet.
type expansion struct {
	url      string
	err      error // the ValueSet itself could not be found or expanded
	inc, exc []*vsPart
	pre      map[string]map[string]bool // system → codes of the stored expansion, when used
}

// vsPart is one compose.include or compose.exclude.
type vsPart struct {
	system   string
	version  string
	cs       *CodeSystem
	ix       *csIndex
	concepts map[string]bool // include.concept codes; nil when none are listed
	filters  []*vsFilter
	sets     []*expansion // include.valueSet, intersected
	why      string       // non-empty when the system part cannot be evaluated here
	detail   string
}

func (t *terminology) compile(url string, from *Package, visiting map[string]bool) *expansion {
	e := &expansion{url: url}
	vs := t.reg.valueSet(url, from)
	if vs == nil {
		if inc, ok := t.implicitInclude(url, from); ok {
			e.inc = []*vsPart{t.part(inc, from, visiting)}
			return e
		}
		e.err = fmt.Errorf("ValueSet %s not found by validator", url)
		return e
	}
	owner := t.reg.ownerOf(vs)
	local := true
	if vs.Compose != nil {
		for _, inc := range vs.Compose.Include {
			p := t.part(inc, owner, visiting)
			local = local && p.local()
			e.inc = append(e.inc, p)
		}
		for _, exc := range vs.Compose.Exclude {
			p := t.part(exc, owner, visiting)
			local = local && p.local()
			e.exc = append(e.exc, p)
		}
	}
	switch {
	case vs.Expansion != nil && (vs.Compose == nil || !local):
		e.inc, e.exc = nil, nil
		e.pre = map[string]map[string]bool{}
		e.addContains(vs.Expansion.Contains)
	case vs.Compose == nil:
		e.err = fmt.Errorf("ValueSet %s has neither compose nor expansion", url)
	}
	return e
}

func (e *expansion) addContains(list []vsContains) {
	for _, c := range list {
		if c.Code != "" {
			m := e.pre[c.System]
			if m == nil {
				m = map[string]bool{}
				e.pre[c.System] = m
			}
			m[c.Code] = true
		}
		e.addContains(c.Contains)
	}
}

// part compiles one include or exclude; nested value sets are looked up from package from
// (the package holding the ValueSet that names them).
func (t *terminology) part(inc vsInclude, from *Package, visiting map[string]bool) *vsPart {
	p := &vsPart{system: inc.System, version: inc.Version}
	for _, u := range inc.ValueSet {
		p.sets = append(p.sets, t.expandIn(stripVersion(u), from, visiting))
	}
	if inc.System == "" {
		return p
	}
	if len(inc.Concept) > 0 {
		p.concepts = make(map[string]bool, len(inc.Concept))
		for _, c := range inc.Concept {
			p.concepts[c.Code] = true
		}
	}
	p.cs, p.ix = t.codeSystemFor(inc.System, from)
	switch {
	case p.cs == nil || p.cs.Content == "not-present":
		p.why = whySystem
	case p.cs.Content == "example" || p.cs.Content == "supplement":
		p.why = whyContent
	}
	for _, f := range inc.Filter {
		vf, err := compileFilter(f.Property, f.Op, f.Value, p.ix)
		if err != nil && p.why == "" {
			p.why, p.detail = whyFilter, err.Error()
		}
		p.filters = append(p.filters, vf)
	}
	return p
}

// local tells whether the part can be evaluated without a terminology server.
func (p *vsPart) local() bool {
	if p.system != "" && p.why != "" && !(p.concepts != nil && len(p.filters) == 0) {
		return false
	}
	for _, s := range p.sets {
		if s.err != nil || (s.pre == nil && !s.localAll()) {
			return false
		}
	}
	return true
}

func (e *expansion) localAll() bool {
	for _, p := range e.inc {
		if !p.local() {
			return false
		}
	}
	for _, p := range e.exc {
		if !p.local() {
			return false
		}
	}
	return true
}

// check answers whether system#code is in the value set. An empty system (a code element)
// matches a code of any system the value set draws on.
func (e *expansion) check(system, code string) verdict {
	if e.err != nil {
		return verdict{state: triUnknown, why: whyVS, system: system, detail: e.err.Error()}
	}
	if e.pre != nil {
		return verdict{state: e.preHas(system, code), system: system}
	}
	res := verdict{state: triNo, system: system}
	for _, p := range e.inc {
		v := p.check(system, code)
		if v.state == triYes {
			res = v
			break
		}
		if v.state == triUnknown && res.state == triNo {
			res = v
		}
	}
	if res.state == triNo {
		return res
	}
	for _, p := range e.exc {
		if v := p.check(system, code); v.state == triYes {
			return verdict{state: triNo, system: system}
		}
	}
	return res
}

func (e *expansion) preHas(system, code string) tri {
	if system != "" {
		if e.pre[system][code] {
			return triYes
		}
		return triNo
	}
	for _, codes := range e.pre {
		if codes[code] {
			return triYes
		}
	}
	return triNo
}

// check answers for one include/exclude: the value sets it names and its system part must
// all hold the code.
func (p *vsPart) check(system, code string) verdict {
	res := verdict{state: triYes, system: system}
	for _, s := range p.sets {
		v := s.check(system, code)
		if v.state == triNo {
			return v
		}
		if v.state == triUnknown {
			res = v
		}
	}
	if p.system == "" {
		if len(p.sets) == 0 {
			return verdict{state: triNo, system: system}
		}
		return res
	}
	if system != "" && system != p.system {
		return verdict{state: triNo, system: system}
	}
	v := p.checkSystem(code)
	if v.state == triYes {
		return res
	}
	return v
}

// checkSystem answers for the system part of an include: concept list, whole system, filters.
func (p *vsPart) checkSystem(code string) verdict {
	unknown := func(why, detail string) verdict {
		return verdict{state: triUnknown, why: why, system: p.system, detail: detail}
	}
	no := verdict{state: triNo, system: p.system}
	if p.concepts != nil && len(p.filters) == 0 && (p.why != "" || p.cs.Content == "fragment") {
		// A concept list is taken at face value when its system is not held in full, as
		// HAPI's in-memory expansion does: listed codes are in, others are not.
		if p.concepts[code] {
			return verdict{state: triYes, system: p.system}
		}
		return no
	}
	if p.why != "" {
		return unknown(p.why, p.detail)
	}
	canon, ok := p.ix.lookup(code)
	if !ok {
		if p.cs.Content == "fragment" {
			return unknown(whyFragm, "")
		}
		return no
	}
	for _, f := range p.filters {
		if !f.match(p.ix, canon) {
			return no
		}
	}
	if p.concepts != nil && !p.concepts[code] {
		return no
	}
	return verdict{state: triYes, system: p.system}
}
