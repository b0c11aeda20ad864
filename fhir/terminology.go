package fhir

import (
	"fmt"
	"strings"
	"sync"
)

// Local terminology: ValueSets are expanded from the CodeSystems the validator holds (the
// packages' and the built-in FHIR ones). Codes from systems it does not hold (SNOMED CT,
// LOINC, …) cannot be judged: they are reported as information, never as errors.

// csIndex is a CodeSystem's concepts with their place in the is-a hierarchy.
type csIndex struct {
	cs       *CodeSystem
	parents  map[string][]string // code → parent codes
	children map[string][]string
	display  map[string]string
}

// expansion is what a ValueSet contains, as far as local knowledge goes.
type expansion struct {
	url     string
	codes   map[string]map[string]bool // system → codes
	unknown map[string]bool            // systems included whose content is not held
	err     error                      // the ValueSet itself could not be found or expanded
}

// terminology caches indexes and expansions; it is shared by concurrent validations.
type terminology struct {
	reg        *registry
	indexes    sync.Map // *CodeSystem → *csIndex
	expansions sync.Map // key(url, package) → *expansion
}

type expKey struct {
	url string
	pkg *Package
}

func (t *terminology) index(cs *CodeSystem) *csIndex {
	if x, ok := t.indexes.Load(cs); ok {
		return x.(*csIndex)
	}
	ix := &csIndex{cs: cs, parents: map[string][]string{}, children: map[string][]string{}, display: map[string]string{}}
	var walk func(parent string, list []concept)
	walk = func(parent string, list []concept) {
		for i := range list {
			c := &list[i]
			ix.display[c.Code] = c.Display
			if parent != "" {
				ix.parents[c.Code] = append(ix.parents[c.Code], parent)
				ix.children[parent] = append(ix.children[parent], c.Code)
			}
			for _, p := range c.Property {
				if (p.Code == "parent" || p.Code == "subsumedBy") && p.ValueCode != "" {
					ix.parents[c.Code] = append(ix.parents[c.Code], p.ValueCode)
					ix.children[p.ValueCode] = append(ix.children[p.ValueCode], c.Code)
				}
			}
			walk(c.Code, c.Concept)
		}
	}
	walk("", cs.Concept)
	actual, _ := t.indexes.LoadOrStore(cs, ix)
	return actual.(*csIndex)
}

func (ix *csIndex) has(code string) bool {
	_, ok := ix.display[code]
	return ok
}

// descendants returns the codes below code (not code itself).
func (ix *csIndex) descendants(code string) []string {
	var out []string
	seen := map[string]bool{code: true}
	queue := []string{code}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, k := range ix.children[c] {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
				queue = append(queue, k)
			}
		}
	}
	return out
}

// expand returns the (cached) expansion of ValueSet url, looked up on behalf of package from.
func (t *terminology) expand(url string, from *Package) *expansion {
	url = stripVersion(url)
	key := expKey{url, from}
	if x, ok := t.expansions.Load(key); ok {
		return x.(*expansion)
	}
	e := t.build(url, from, map[string]bool{})
	actual, _ := t.expansions.LoadOrStore(key, e)
	return actual.(*expansion)
}

func (t *terminology) build(url string, from *Package, visiting map[string]bool) *expansion {
	e := &expansion{url: url, codes: map[string]map[string]bool{}, unknown: map[string]bool{}}
	vs := t.reg.valueSet(url, from)
	if vs == nil {
		e.err = fmt.Errorf("ValueSet %s not found by validator", url)
		return e
	}
	if visiting[url] {
		e.err = fmt.Errorf("ValueSet %s includes itself", url)
		return e
	}
	visiting[url] = true
	defer delete(visiting, url)
	owner := t.reg.ownerOf(vs)
	if vs.Compose == nil {
		if vs.Expansion == nil {
			e.err = fmt.Errorf("ValueSet %s has neither compose nor expansion", url)
			return e
		}
		var add func(list []vsContains)
		add = func(list []vsContains) {
			for _, c := range list {
				if c.Code != "" {
					e.add(c.System, c.Code)
				}
				add(c.Contains)
			}
		}
		add(vs.Expansion.Contains)
		return e
	}
	for _, inc := range vs.Compose.Include {
		part := t.include(inc, owner, visiting)
		if part.err != nil {
			e.err = part.err
			return e
		}
		e.merge(part)
	}
	for _, exc := range vs.Compose.Exclude {
		part := t.include(exc, owner, visiting)
		for sys, codes := range part.codes {
			for c := range codes {
				delete(e.codes[sys], c)
			}
		}
	}
	return e
}

func (e *expansion) add(system, code string) {
	m := e.codes[system]
	if m == nil {
		m = map[string]bool{}
		e.codes[system] = m
	}
	m[code] = true
}

func (e *expansion) merge(o *expansion) {
	for sys, codes := range o.codes {
		for c := range codes {
			e.add(sys, c)
		}
	}
	for sys := range o.unknown {
		e.unknown[sys] = true
	}
}

// include evaluates one compose.include (or exclude).
func (t *terminology) include(inc vsInclude, from *Package, visiting map[string]bool) *expansion {
	e := &expansion{codes: map[string]map[string]bool{}, unknown: map[string]bool{}}
	// Included value sets are intersected with each other and with the system part.
	var sets []*expansion
	for _, u := range inc.ValueSet {
		sub := t.build(stripVersion(u), from, visiting)
		if sub.err != nil {
			return sub
		}
		sets = append(sets, sub)
	}
	if inc.System != "" {
		sys := &expansion{codes: map[string]map[string]bool{}, unknown: map[string]bool{}}
		cs := t.reg.codeSystem(inc.System, from)
		switch {
		case len(inc.Concept) > 0:
			for _, c := range inc.Concept {
				sys.add(inc.System, c.Code)
			}
		case cs == nil || cs.Content == "not-present" || (cs.Content == "fragment" && len(inc.Filter) == 0):
			sys.unknown[inc.System] = true
		default:
			ix := t.index(cs)
			codes := map[string]bool{}
			for c := range ix.display {
				codes[c] = true
			}
			for _, f := range inc.Filter {
				keep := map[string]bool{}
				switch {
				case (f.Property == "concept" || f.Property == "code") && (f.Op == "is-a" || f.Op == "descendent-of"):
					if f.Op == "is-a" && ix.has(f.Value) {
						keep[f.Value] = true
					}
					for _, d := range ix.descendants(f.Value) {
						keep[d] = true
					}
				case (f.Property == "concept" || f.Property == "code") && f.Op == "is-not-a":
					drop := map[string]bool{f.Value: true}
					for _, d := range ix.descendants(f.Value) {
						drop[d] = true
					}
					for c := range codes {
						if !drop[c] {
							keep[c] = true
						}
					}
				case (f.Property == "concept" || f.Property == "code") && (f.Op == "=" || f.Op == "in"):
					for _, v := range strings.Split(f.Value, ",") {
						if ix.has(strings.TrimSpace(v)) {
							keep[strings.TrimSpace(v)] = true
						}
					}
				default:
					// A filter on a property this validator does not evaluate: codes of this
					// system cannot be judged.
					sys.unknown[inc.System] = true
					keep = nil
				}
				if keep == nil {
					codes = nil
					break
				}
				for c := range codes {
					if !keep[c] {
						delete(codes, c)
					}
				}
			}
			for c := range codes {
				sys.add(inc.System, c)
			}
		}
		sets = append(sets, sys)
	}
	if len(sets) == 0 {
		return e
	}
	e.merge(sets[0])
	for _, s := range sets[1:] { // intersection
		for sysName, codes := range e.codes {
			for c := range codes {
				if !s.codes[sysName][c] && !s.unknown[sysName] {
					delete(codes, c)
				}
			}
		}
	}
	return e
}

// contains tells whether system#code is in the expansion: (in, known). known is false when
// the code's system is not held (or the value set could not be expanded).
func (e *expansion) contains(system, code string) (bool, bool) {
	if e.err != nil {
		return false, false
	}
	if system == "" {
		for _, codes := range e.codes {
			if codes[code] {
				return true, true
			}
		}
		return false, len(e.unknown) == 0
	}
	if e.codes[system][code] {
		return true, true
	}
	if e.unknown[system] {
		return false, false
	}
	return false, true
}

// codeKnown checks a code against its CodeSystem when held: (valid, held).
func (t *terminology) codeKnown(system, code string, from *Package) (bool, bool) {
	cs := t.reg.codeSystem(system, from)
	if cs == nil || cs.Content != "complete" {
		return false, false
	}
	return t.index(cs).has(code), true
}
