package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A profile is a StructureDefinition snapshot compiled once into a tree of element
// definitions, with fixed/pattern values parsed and invariants parsed to FHIRPath ASTs.

type profile struct {
	url  string
	sd   *StructureDefinition
	pkg  *Package // where the definition lives: references from it are resolved from there
	root *elemDef
}

type elemDef struct {
	ed        *ElementDefinition
	prof      *profile
	id        string
	name      string // last path segment without [x]
	choice    bool
	sliceName string
	min, max  int // max < 0: unbounded
	types     []typeRef
	children  []*elemDef
	slicing   *Slicing
	slices    []*elemDef
	fixed     *jsonNode
	pattern   *jsonNode
	binding   *Binding
	invs      []*invariant
	content   string // contentReference target id ("Questionnaire.item")
}

type typeRef struct {
	code     string
	profiles []string
	targets  []string
	aggr     []string // aggregation modes of a Reference: contained, referenced, bundled
}

type invariant struct {
	Constraint
	expr *fpNode
	err  error // the expression does not parse
}

func (d *elemDef) typeCodes() []string {
	out := make([]string, len(d.types))
	for i, t := range d.types {
		out[i] = t.code
	}
	return out
}

// allowsType tells whether an instance of type t fits one of the element's types.
func (d *elemDef) allowsType(t string) bool {
	if len(d.types) == 0 {
		return true
	}
	for _, tr := range d.types {
		if tr.code == t || tr.code == "Resource" || tr.code == "DomainResource" {
			return true
		}
		if tr.code == "Quantity" && (t == "SimpleQuantity" || t == "MoneyQuantity") {
			return true
		}
	}
	return false
}

// compileProfile turns a StructureDefinition with a snapshot into a profile.
func compileProfile(sd *StructureDefinition, pkg *Package) (*profile, error) {
	if sd.Snapshot == nil || len(sd.Snapshot.Element) == 0 {
		return nil, fmt.Errorf("StructureDefinition %s has no snapshot - validation is against the snapshot, so it must be provided", sd.URL)
	}
	p := &profile{url: sd.URL, sd: sd, pkg: pkg}
	byID := map[string]*elemDef{}
	for i, ed := range sd.Snapshot.Element {
		id := ed.ID
		if id == "" {
			id = ed.Path
		}
		d, err := newElemDef(ed, p, id)
		if err != nil {
			return nil, fmt.Errorf("%s element %s: %w", sd.URL, id, err)
		}
		byID[id] = d
		if i == 0 {
			p.root = d
			continue
		}
		parentID, last := splitID(id)
		parent := byID[parentID]
		if parent == nil {
			return nil, fmt.Errorf("%s element %s: its parent %s is not in the snapshot", sd.URL, id, parentID)
		}
		if j := strings.IndexByte(last, ':'); j >= 0 {
			base := byID[parentID+"."+last[:j]]
			if strings.Contains(last[j+1:], "/") { // re-slicing: the slice of a slice
				base = byID[parentID+"."+last[:strings.LastIndexByte(last, '/')]]
			}
			if base == nil {
				return nil, fmt.Errorf("%s element %s: slice of an element not in the snapshot", sd.URL, id)
			}
			base.slices = append(base.slices, d)
			continue
		}
		parent.children = append(parent.children, d)
	}
	if p.root == nil {
		return nil, fmt.Errorf("StructureDefinition %s has an empty snapshot", sd.URL)
	}
	return p, nil
}

// splitID splits "A.b:s.c" into "A.b:s" and "c", ignoring dots inside slice names' brackets.
func splitID(id string) (string, string) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return "", id
	}
	return id[:i], id[i+1:]
}

func newElemDef(ed *ElementDefinition, p *profile, id string) (*elemDef, error) {
	d := &elemDef{ed: ed, prof: p, id: id, sliceName: ed.SliceName, binding: ed.Binding, slicing: ed.Slicing}
	name := ed.Path[strings.LastIndexByte(ed.Path, '.')+1:]
	d.choice = strings.HasSuffix(name, "[x]")
	d.name = strings.TrimSuffix(name, "[x]")
	if ed.Min != nil {
		d.min = *ed.Min
	}
	d.max = -1
	if ed.Max != "*" && ed.Max != "" {
		m, err := strconv.Atoi(ed.Max)
		if err != nil {
			return nil, fmt.Errorf("max %q is not a number or *", ed.Max)
		}
		d.max = m
	}
	for i := range ed.Type {
		t := &ed.Type[i]
		tr := typeRef{code: t.typeCode(), profiles: t.Profile, targets: t.TargetProfile}
		if p.sd.Kind == "resource" && ed.Path == p.sd.Type+".id" {
			tr.code = "id"
		}
		tr.aggr = t.Aggregation
		d.types = append(d.types, tr)
	}
	if ed.ContentReference != "" {
		d.content = strings.TrimPrefix(ed.ContentReference, "#")
		if i := strings.IndexByte(d.content, '#'); i >= 0 { // url#id form
			d.content = d.content[i+1:]
		}
	}
	var err error
	if len(ed.Fixed) > 0 {
		if d.fixed, err = parseJSON(ed.Fixed); err != nil {
			return nil, fmt.Errorf("fixed value: %w", err)
		}
	}
	if len(ed.Pattern) > 0 {
		if d.pattern, err = parseJSON(ed.Pattern); err != nil {
			return nil, fmt.Errorf("pattern value: %w", err)
		}
	}
	for _, c := range ed.Constraint {
		inv := &invariant{Constraint: c}
		if c.Expression == "" {
			inv.err = fmt.Errorf("no FHIRPath expression")
		} else {
			inv.expr, inv.err = parseCachedFHIRPath(c.Expression)
			if errors.Is(inv.err, errUnknownFunction) {
				return nil, fmt.Errorf("constraint %s: %w", c.Key, inv.err)
			}
		}
		d.invs = append(d.invs, inv)
	}
	return d, nil
}
