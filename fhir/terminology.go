package fhir

import (
	"fmt"
	"strings"
	"sync"
)

// Local terminology, as the HL7 validator does it without a terminology server. A ValueSet is
// compiled once (expand.go) into includes and excludes that are asked, code by code, whether
// they hold system#code: concept lists, whole code systems and filters (expand_filter.go) are
// evaluated against the CodeSystems the validator holds (the packages' and the built-in FHIR
// ones), indexed once each. Nothing is enumerated, so a huge code system costs one index and
// no per-validation memory. Codes from systems that are not held (SNOMED CT, LOINC, …) cannot
// be judged: the answer is "unknown", reported as information, never as an error.

// tri is a three-valued answer: no, yes, or cannot tell.
type tri int8

const (
	triNo tri = iota
	triYes
	triUnknown
)

// Why a membership answer is unknown; the binding check words its issue from it.
const (
	whySystem  = "system"  // the code system is not held (or holds no codes)
	whyContent = "content" // the code system is held but only as an example
	whyFragm   = "fragment"
	whyFilter  = "filter" // a filter this validator does not evaluate
	whyVS      = "valueset"
)

// verdict is the answer to "is system#code in this value set".
type verdict struct {
	state  tri
	why    string // for triUnknown: one of the why* constants
	system string // the system the answer is about
	detail string // for whyFilter / whyVS: what could not be evaluated
}

// csIndex is a CodeSystem's concepts with their place in the is-a hierarchy, built once.
type csIndex struct {
	cs       *CodeSystem
	concepts map[string]*concept
	fold     map[string]string // lower-case code → code, for case-insensitive systems
	parents  map[string][]string
	children map[string][]string
	// propKinds: property code → true when every value seen is a code (valueCode); a
	// property with other value types cannot be filtered on (their values are not decoded).
	propKinds map[string]bool
}

// terminology caches indexes and compiled value sets; it is shared by concurrent validations.
type terminology struct {
	reg        *registry
	indexes    sync.Map // *CodeSystem → *csIndex
	expansions sync.Map // expKey → *expansion
}

type expKey struct {
	url string
	pkg *Package
}

func (t *terminology) index(cs *CodeSystem) *csIndex {
	if x, ok := t.indexes.Load(cs); ok {
		return x.(*csIndex)
	}
	n := countConcepts(cs.Concept)
	ix := &csIndex{cs: cs, concepts: make(map[string]*concept, n), parents: make(map[string][]string, n),
		children: map[string][]string{}, propKinds: map[string]bool{}}
	link := func(parent, child string) {
		ix.parents[child] = append(ix.parents[child], parent)
		ix.children[parent] = append(ix.children[parent], child)
	}
	var walk func(parent string, list []concept)
	walk = func(parent string, list []concept) {
		for i := range list {
			c := &list[i]
			if _, dup := ix.concepts[c.Code]; !dup {
				ix.concepts[c.Code] = c
			}
			if parent != "" {
				link(parent, c.Code)
			}
			for _, p := range c.Property {
				ok, seen := ix.propKinds[p.Code]
				ix.propKinds[p.Code] = (ok || !seen) && p.ValueCode != ""
				switch {
				case p.ValueCode == "":
				case p.Code == "parent" || p.Code == "subsumedBy":
					link(p.ValueCode, c.Code)
				case p.Code == "child":
					link(c.Code, p.ValueCode)
				}
			}
			walk(c.Code, c.Concept)
		}
	}
	walk("", cs.Concept)
	if !caseSensitive(cs) {
		ix.fold = make(map[string]string, len(ix.concepts))
		for c := range ix.concepts {
			ix.fold[strings.ToLower(c)] = c
		}
	}
	actual, _ := t.indexes.LoadOrStore(cs, ix)
	return actual.(*csIndex)
}

func countConcepts(list []concept) int {
	n := len(list)
	for i := range list {
		n += countConcepts(list[i].Concept)
	}
	return n
}

// caseSensitive follows the HL7 validator, which reads a missing CodeSystem.caseSensitive as
// false (codes then match whatever their case).
func caseSensitive(cs *CodeSystem) bool {
	return cs.CaseSensitive != nil && *cs.CaseSensitive
}

// lookup returns the code as the code system spells it.
func (ix *csIndex) lookup(code string) (string, bool) {
	if _, ok := ix.concepts[code]; ok {
		return code, true
	}
	if ix.fold != nil {
		c, ok := ix.fold[strings.ToLower(code)]
		return c, ok
	}
	return "", false
}

func (ix *csIndex) has(code string) bool {
	_, ok := ix.lookup(code)
	return ok
}

// subsumes tells whether ancestor is code or above it in the hierarchy (nesting and
// parent/child properties). It walks up from code, so it costs the depth, not the size.
func (ix *csIndex) subsumes(ancestor, code string) bool {
	if ancestor == code {
		return true
	}
	seen := map[string]bool{code: true}
	queue := []string{code}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, p := range ix.parents[c] {
			if p == ancestor {
				return true
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}

// expand returns the (cached) compiled ValueSet url, looked up on behalf of package from.
func (t *terminology) expand(url string, from *Package) *expansion {
	return t.expandIn(stripVersion(url), from, map[string]bool{})
}

func (t *terminology) expandIn(url string, from *Package, visiting map[string]bool) *expansion {
	key := expKey{url, from}
	if x, ok := t.expansions.Load(key); ok {
		return x.(*expansion)
	}
	if visiting[url] {
		return &expansion{url: url, err: fmt.Errorf("ValueSet %s includes itself", url)}
	}
	visiting[url] = true
	defer delete(visiting, url)
	e := t.compile(url, from, visiting)
	actual, _ := t.expansions.LoadOrStore(key, e)
	return actual.(*expansion)
}

// contains tells whether system#code is in the expansion: (in, known). known is false when
// the code's system is not held (or the value set could not be expanded). An empty system
// (a code element) matches a code of any system the value set draws on.
func (e *expansion) contains(system, code string) (bool, bool) {
	v := e.check(system, code)
	return v.state == triYes, v.state != triUnknown
}

// codeKnown checks a code against its CodeSystem when held with complete content:
// (valid, held).
func (t *terminology) codeKnown(system, code string, from *Package) (bool, bool) {
	cs := t.reg.codeSystem(system, from)
	if cs == nil || cs.Content != "complete" {
		return false, false
	}
	return t.index(cs).has(code), true
}

// codeSystemFor returns the held CodeSystem of system with its index, or nils.
func (t *terminology) codeSystemFor(system string, from *Package) (*CodeSystem, *csIndex) {
	cs := t.reg.codeSystem(system, from)
	if cs == nil {
		return nil, nil
	}
	return cs, t.index(cs)
}
