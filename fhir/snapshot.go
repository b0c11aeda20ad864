package fhir

import (
	"fmt"
	"strings"
)

// Snapshot generation for profiles published with a differential only. It covers simple
// constraints — cardinality, fixed/pattern values, bindings, type restrictions, invariants,
// slicing with named slices, and constraints inside data types the base does not expand.
// Anything else is refused with an error naming the element, rather than guessed at.

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
	snap := make([]*ElementDefinition, 0, len(base.Snapshot.Element))
	for _, ed := range base.Snapshot.Element {
		cp := *ed
		if cp.ID == "" {
			cp.ID = cp.Path
		}
		snap = append(snap, &cp)
	}
	for _, diff := range sd.Differential.Element {
		id := diff.ID
		if id == "" {
			id = diff.Path
			if diff.SliceName != "" {
				id += ":" + diff.SliceName
			}
		}
		i := indexByID(snap, id)
		if i < 0 {
			var err error
			if snap, err = materialise(reg, snap, id, pkg); err != nil {
				return fmt.Errorf("StructureDefinition %s: differential element %s: %w", sd.URL, id, err)
			}
			i = indexByID(snap, id)
		}
		if err := applyDiff(snap[i], diff); err != nil {
			return fmt.Errorf("StructureDefinition %s: differential element %s: %w", sd.URL, id, err)
		}
	}
	sd.Snapshot = &elementList{Element: snap}
	return nil
}

func indexByID(list []*ElementDefinition, id string) int {
	for i, ed := range list {
		if ed.ID == id {
			return i
		}
	}
	return -1
}

// subtreeEnd returns the index just past id's element and its descendants.
func subtreeEnd(list []*ElementDefinition, i int) int {
	id := list[i].ID
	j := i + 1
	for j < len(list) && (strings.HasPrefix(list[j].ID, id+".") || strings.HasPrefix(list[j].ID, id+":")) {
		j++
	}
	return j
}

// materialise adds the element id to the snapshot: a new slice (copied from the sliced
// element), or the children of a data type the base leaves unexpanded.
func materialise(reg *registry, snap []*ElementDefinition, id string, pkg *Package) ([]*ElementDefinition, error) {
	parentID, last := splitID(id)
	if parentID == "" {
		return nil, fmt.Errorf("not found in the base")
	}
	if indexByID(snap, parentID) < 0 {
		var err error
		if snap, err = materialise(reg, snap, parentID, pkg); err != nil {
			return nil, err
		}
	}
	pi := indexByID(snap, parentID)
	if j := strings.IndexByte(last, ':'); j >= 0 {
		// A new slice: copy the unsliced element and its subtree under the slice's id.
		baseID := parentID + "." + last[:j]
		bi := indexByID(snap, baseID)
		if bi < 0 {
			return nil, fmt.Errorf("slice of %s, which is not in the base", baseID)
		}
		if snap[bi].Slicing == nil {
			return nil, fmt.Errorf("slice of %s, which has no slicing", baseID)
		}
		end := subtreeEnd(snap, bi)
		var add []*ElementDefinition
		for _, ed := range snap[bi:end] {
			if strings.Contains(strings.TrimPrefix(ed.ID, baseID), ":") {
				continue // other slices
			}
			cp := *ed
			cp.ID = id + strings.TrimPrefix(ed.ID, baseID)
			cp.Slicing = nil
			if cp.ID == id {
				cp.SliceName = last[j+1:]
				zero := 0 // a slice may be absent even when the sliced element is required
				cp.Min = &zero
			}
			add = append(add, &cp)
		}
		return insertAt(snap, end, add), nil
	}
	// A child of an element whose type the base does not expand.
	parent := snap[pi]
	if len(parent.Type) != 1 {
		return nil, fmt.Errorf("not found in the base, and %s does not have exactly one type to look into", parentID)
	}
	t := parent.Type[0].typeCode()
	tsd := reg.structure(t, nil)
	if len(parent.Type[0].Profile) == 1 {
		if p := reg.structure(parent.Type[0].Profile[0], pkg); p != nil {
			tsd = p
		}
	}
	if tsd == nil || tsd.Snapshot == nil {
		return nil, fmt.Errorf("not found in the base, and type %s is unknown", t)
	}
	var add []*ElementDefinition
	for _, ed := range tsd.Snapshot.Element[1:] {
		cp := *ed
		rest := strings.TrimPrefix(ed.ID, tsd.Snapshot.Element[0].ID)
		if rest == ed.ID {
			rest = strings.TrimPrefix(ed.Path, tsd.Type)
		}
		cp.ID = parentID + rest
		cp.Path = parent.Path + strings.TrimPrefix(ed.Path, tsd.Type)
		add = append(add, &cp)
	}
	snap = insertAt(snap, pi+1, add)
	if indexByID(snap, id) < 0 {
		return nil, fmt.Errorf("not found in the base nor in type %s", t)
	}
	return snap, nil
}

func insertAt(list []*ElementDefinition, at int, add []*ElementDefinition) []*ElementDefinition {
	out := make([]*ElementDefinition, 0, len(list)+len(add))
	out = append(out, list[:at]...)
	out = append(out, add...)
	return append(out, list[at:]...)
}

// applyDiff constrains a snapshot element with its differential.
func applyDiff(ed, diff *ElementDefinition) error {
	if diff.Min != nil {
		if ed.Min != nil && *diff.Min < *ed.Min {
			return fmt.Errorf("min %d is below the base's %d", *diff.Min, *ed.Min)
		}
		m := *diff.Min
		ed.Min = &m
	}
	if diff.Max != "" {
		if ed.Max != "*" && ed.Max != "" && diff.Max == "*" {
			return fmt.Errorf("max * widens the base's %s", ed.Max)
		}
		ed.Max = diff.Max
	}
	if len(diff.Type) > 0 {
		for _, t := range diff.Type {
			ok := false
			for _, bt := range ed.Type {
				ok = ok || bt.typeCode() == t.typeCode() || bt.Code == "Resource" || bt.Code == "*"
			}
			if !ok && len(ed.Type) > 0 {
				return fmt.Errorf("type %s is not one of the base's types", t.Code)
			}
		}
		ed.Type = diff.Type
	}
	if diff.Binding != nil {
		ed.Binding = diff.Binding
	}
	if diff.Fixed != nil {
		ed.Fixed, ed.FixedType = diff.Fixed, diff.FixedType
	}
	if diff.Pattern != nil {
		ed.Pattern, ed.PatternType = diff.Pattern, diff.PatternType
	}
	if diff.Slicing != nil {
		ed.Slicing = diff.Slicing
	}
	if diff.MaxLength > 0 {
		ed.MaxLength = diff.MaxLength
	}
	if diff.SliceName != "" {
		ed.SliceName = diff.SliceName
	}
	if len(diff.Constraint) > 0 {
		ed.Constraint = append(append([]Constraint(nil), ed.Constraint...), diff.Constraint...)
	}
	return nil
}
