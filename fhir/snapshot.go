package fhir

import (
	"fmt"
	"strings"
)

// Snapshot generation for profiles published with a differential only, as the HL7
// reference validator does (ProfileUtilities.generateSnapshot): the base's snapshot is
// turned into a tree of elements, each differential element is found in it (unfolding data
// types, choice renames, new slices and re-slices on the way) and constrained, and the tree
// is written out again in snapshot order. Every element is reached through an index by id
// and by its parent's children, so the cost is linear in the size of base and differential.
// A differential the generator cannot place, or one that widens the base (cardinality,
// types, binding strength), is refused with an error naming the element.

// snode is one element of a snapshot under construction.
type snode struct {
	ed       *ElementDefinition // owned copy
	name     string             // last path segment ("value[x]")
	children []*snode
	slices   []*snode // for a sliced element (or a slice that is re-sliced): its slices in order
}

// snapGen is the state of one snapshot generation.
type snapGen struct {
	reg  *registry
	sd   *StructureDefinition
	pkg  *Package
	busy map[*StructureDefinition]bool
	root *snode
	byID map[string]*snode
}

func generateSnapshot(reg *registry, sd *StructureDefinition, pkg *Package) error {
	return genSnapshot(reg, sd, pkg, map[*StructureDefinition]bool{})
}

func genSnapshot(reg *registry, sd *StructureDefinition, pkg *Package, busy map[*StructureDefinition]bool) error {
	if sd.Snapshot != nil && len(sd.Snapshot.Element) > 0 {
		return nil
	}
	if sd.Differential == nil || len(sd.Differential.Element) == 0 {
		return fmt.Errorf("StructureDefinition %s has neither snapshot nor differential", sd.URL)
	}
	if sd.Derivation != "constraint" {
		return fmt.Errorf("StructureDefinition %s has no snapshot, and a snapshot can only be generated for a constraint (derivation = %q)", sd.URL, sd.Derivation)
	}
	if busy[sd] {
		return fmt.Errorf("StructureDefinition %s: circular baseDefinition", sd.URL)
	}
	busy[sd] = true
	defer delete(busy, sd)
	base := reg.structure(sd.BaseDefinition, pkg)
	if base == nil {
		return fmt.Errorf("StructureDefinition %s has no snapshot and its base %s is not loaded", sd.URL, sd.BaseDefinition)
	}
	if err := genSnapshot(reg, base, reg.ownerOf(base), busy); err != nil {
		return fmt.Errorf("StructureDefinition %s: base: %w", sd.URL, err)
	}
	if base.Type != sd.Type {
		return fmt.Errorf("StructureDefinition %s (type %s) cannot constrain %s (type %s)", sd.URL, sd.Type, base.URL, base.Type)
	}
	g := &snapGen{reg: reg, sd: sd, pkg: pkg, busy: busy, byID: map[string]*snode{}}
	root, err := g.tree(base.Snapshot.Element, "", "")
	if err != nil {
		return fmt.Errorf("StructureDefinition %s: base %s: %w", sd.URL, base.URL, err)
	}
	g.root = root
	for _, diff := range sd.Differential.Element {
		id := diffID(diff)
		n, err := g.resolve(id)
		if err == nil {
			err = applyDiff(n, diff)
		}
		if err != nil {
			return fmt.Errorf("StructureDefinition %s: differential element %s: %w", sd.URL, id, err)
		}
	}
	var out []*ElementDefinition
	sd.Snapshot = &elementList{Element: flatten(g.root, out)}
	return nil
}

// diffID is a differential element's id; older profiles give the path (and slice name) only.
func diffID(diff *ElementDefinition) string {
	if diff.ID != "" {
		return diff.ID
	}
	if diff.SliceName != "" {
		return diff.Path + ":" + diff.SliceName
	}
	return diff.Path
}

// tree builds the element tree of a snapshot. With a prefix, ids and paths are moved under
// another element (a data type unfolded at Observation.code: CodeableConcept.coding →
// Observation.code.coding); the snapshot's root is then left out.
func (g *snapGen) tree(list []*ElementDefinition, idPrefix, pathPrefix string) (*snode, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("empty snapshot")
	}
	rootID := list[0].ID
	if rootID == "" {
		rootID = list[0].Path
	}
	rootPath := list[0].Path
	local := make(map[string]*snode, len(list))
	var root *snode
	for i, ed := range list {
		cp := *ed
		if cp.ID == "" {
			cp.ID = cp.Path
		}
		oldID := cp.ID
		if idPrefix != "" {
			cp.ID = idPrefix + strings.TrimPrefix(cp.ID, rootID)
			cp.Path = pathPrefix + strings.TrimPrefix(cp.Path, rootPath)
		}
		n := &snode{ed: &cp, name: cp.Path[strings.LastIndexByte(cp.Path, '.')+1:]}
		local[oldID] = n
		if i == 0 {
			root = n
			continue
		}
		parentID, last := splitID(oldID)
		parent := local[parentID]
		if parent == nil {
			return nil, fmt.Errorf("element %s: its parent %s is not in the snapshot", oldID, parentID)
		}
		if j := strings.IndexByte(last, ':'); j >= 0 {
			baseID := parentID + "." + last[:j]
			if k := strings.LastIndexByte(last, '/'); k > j {
				baseID = parentID + "." + last[:k]
			}
			b := local[baseID]
			if b == nil {
				return nil, fmt.Errorf("element %s: slice of %s, which is not in the snapshot", oldID, baseID)
			}
			b.slices = append(b.slices, n)
		} else {
			parent.children = append(parent.children, n)
		}
		g.byID[cp.ID] = n
	}
	if idPrefix == "" {
		g.byID[root.ed.ID] = root
	}
	return root, nil
}

// flatten writes the tree in snapshot order: an element, its children, then its slices.
func flatten(n *snode, out []*ElementDefinition) []*ElementDefinition {
	out = append(out, n.ed)
	for _, c := range n.children {
		out = flatten(c, out)
	}
	for _, s := range n.slices {
		out = flatten(s, out)
	}
	return out
}

// resolve finds the element a differential id names, creating it when the base does not
// have it yet: a child of an unfolded data type, a choice element under its renamed path
// (valueQuantity), a new slice or re-slice.
func (g *snapGen) resolve(id string) (*snode, error) {
	if n := g.byID[id]; n != nil {
		return n, nil
	}
	parentID, last := splitID(id)
	if parentID == "" {
		return nil, fmt.Errorf("does not start at the root %s", g.root.ed.ID)
	}
	parent, err := g.resolve(parentID)
	if err != nil {
		return nil, err
	}
	name, slice := last, ""
	if j := strings.IndexByte(last, ':'); j >= 0 {
		name, slice = last[:j], last[j+1:]
	}
	if len(parent.children) == 0 {
		if err := g.unfold(parent); err != nil {
			return nil, err
		}
	}
	n := childNamed(parent, name)
	if n == nil {
		if n = choiceRenamed(parent, name); n == nil {
			return nil, fmt.Errorf("not found in the base: %s has no element %s", parent.ed.ID, name)
		}
	}
	if slice != "" {
		if n, err = g.slice(n, slice); err != nil {
			return nil, err
		}
	}
	g.byID[id] = n
	return n, nil
}

func childNamed(parent *snode, name string) *snode {
	for _, c := range parent.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// choiceRenamed finds value[x] for valueQuantity and narrows it to that type, as a
// differential naming the typed path does.
func choiceRenamed(parent *snode, name string) *snode {
	for _, c := range parent.children {
		stem := strings.TrimSuffix(c.name, "[x]")
		if stem == c.name || !strings.HasPrefix(name, stem) || len(name) == len(stem) {
			continue
		}
		want := typeFromSuffix(name[len(stem):])
		for _, t := range c.ed.Type {
			if strings.EqualFold(t.typeCode(), want) {
				if len(c.ed.Type) > 1 {
					c.ed.Type = []elementType{t}
				}
				return c
			}
		}
	}
	return nil
}

// slice returns slice name of element n (a re-slice when name is "a/b"), creating it from
// the sliced element when the base does not have it.
func (g *snapGen) slice(n *snode, name string) (*snode, error) {
	owner := n
	if k := strings.LastIndexByte(name, '/'); k >= 0 {
		var err error
		if owner, err = g.slice(n, name[:k]); err != nil {
			return nil, err
		}
	}
	for _, s := range owner.slices {
		if s.ed.SliceName == name {
			return s, nil
		}
	}
	if owner.ed.Slicing == nil {
		switch {
		case strings.HasSuffix(n.name, "[x]"):
			owner.ed.Slicing = &Slicing{Rules: "open", Discriminator: []Discriminator{{Type: "type", Path: "$this"}}}
		case n.name == "extension" || n.name == "modifierExtension":
			owner.ed.Slicing = &Slicing{Rules: "open", Discriminator: []Discriminator{{Type: "value", Path: "url"}}}
		default:
			return nil, fmt.Errorf("slice %s of %s, which is not sliced (the differential gives no slicing)", name, owner.ed.ID)
		}
	}
	s := copySubtree(owner, owner.ed.ID+ifElse(owner == n, ":", "/")+name[strings.LastIndexByte(name, '/')+1:], g.byID)
	s.ed.SliceName = name
	s.ed.Slicing = nil
	zero := 0 // a slice may be absent even when the sliced element is required
	s.ed.Min = &zero
	owner.slices = append(owner.slices, s)
	return s, nil
}

func ifElse(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// copySubtree copies n and its children (not its slices) under a new id.
func copySubtree(n *snode, id string, byID map[string]*snode) *snode {
	cp := *n.ed
	oldID := n.ed.ID
	cp.ID = id
	out := &snode{ed: &cp, name: n.name}
	byID[id] = out
	for _, c := range n.children {
		out.children = append(out.children, copySubtreeUnder(c, oldID, id, byID))
	}
	return out
}

func copySubtreeUnder(n *snode, oldPrefix, newPrefix string, byID map[string]*snode) *snode {
	cp := *n.ed
	cp.ID = newPrefix + strings.TrimPrefix(n.ed.ID, oldPrefix)
	out := &snode{ed: &cp, name: n.name}
	byID[cp.ID] = out
	for _, c := range n.children {
		out.children = append(out.children, copySubtreeUnder(c, oldPrefix, newPrefix, byID))
	}
	for _, s := range n.slices {
		out.slices = append(out.slices, copySubtreeUnder(s, oldPrefix, newPrefix, byID))
	}
	return out
}

// unfold gives an element without children the children of its type: from the type's
// profile when it names exactly one, else from the type's base definition; or, for a
// contentReference, those of the element referred to.
func (g *snapGen) unfold(n *snode) error {
	if ref := n.ed.ContentReference; ref != "" {
		target := g.byID[strings.TrimPrefix(ref[strings.IndexByte(ref, '#')+1:], "#")]
		if target == nil {
			return fmt.Errorf("%s refers to %s, which is not in the snapshot", n.ed.ID, ref)
		}
		for _, c := range target.children {
			cc := copySubtreeUnder(c, target.ed.ID, n.ed.ID, g.byID)
			cc.ed.Path = n.ed.Path + strings.TrimPrefix(cc.ed.Path, target.ed.Path)
			n.children = append(n.children, cc)
		}
		return nil
	}
	if len(n.ed.Type) != 1 {
		return fmt.Errorf("%s does not have exactly one type to look into (it has %d)", n.ed.ID, len(n.ed.Type))
	}
	t := n.ed.Type[0]
	tsd := g.reg.coreType(t.typeCode())
	if len(t.Profile) == 1 {
		if p := g.reg.structure(t.Profile[0], g.pkg); p != nil {
			tsd = p
		}
	}
	if tsd == nil {
		return fmt.Errorf("the type %s of %s is unknown", t.typeCode(), n.ed.ID)
	}
	if err := genSnapshot(g.reg, tsd, g.reg.ownerOf(tsd), g.busy); err != nil {
		return fmt.Errorf("type of %s: %w", n.ed.ID, err)
	}
	sub, err := g.tree(tsd.Snapshot.Element, n.ed.ID, n.ed.Path)
	if err != nil {
		return fmt.Errorf("type %s: %w", tsd.URL, err)
	}
	n.children = sub.children
	return nil
}
