package fhir

import (
	"fmt"
	"strconv"
)

// How a differential element constrains its snapshot element: each property it gives
// replaces or narrows the base's, and a property that would loosen the base (a smaller min,
// a larger max, a type the base does not allow, a weaker required binding, a longer
// maxLength) is an error.

func applyDiff(n *snode, diff *ElementDefinition) error {
	ed := n.ed
	if err := applyCardinality(ed, diff); err != nil {
		return err
	}
	if len(diff.Type) > 0 {
		if err := applyTypes(ed, diff.Type); err != nil {
			return err
		}
	}
	if diff.Binding != nil {
		if err := applyBinding(ed, diff.Binding); err != nil {
			return err
		}
	}
	if diff.Fixed != nil {
		ed.Fixed, ed.FixedType = diff.Fixed, diff.FixedType
	}
	if diff.Pattern != nil {
		ed.Pattern, ed.PatternType = diff.Pattern, diff.PatternType
	}
	if diff.MinValue != nil {
		ed.MinValue, ed.MinValueType = diff.MinValue, diff.MinValueType
	}
	if diff.MaxValue != nil {
		ed.MaxValue, ed.MaxValueType = diff.MaxValue, diff.MaxValueType
	}
	if diff.MaxLength > 0 {
		if ed.MaxLength > 0 && diff.MaxLength > ed.MaxLength {
			return fmt.Errorf("maxLength %d is greater than the base's %d", diff.MaxLength, ed.MaxLength)
		}
		ed.MaxLength = diff.MaxLength
	}
	if diff.MustSupport {
		ed.MustSupport = true
	}
	if diff.Slicing != nil {
		ed.Slicing = mergeSlicing(ed.Slicing, diff.Slicing)
	}
	if len(diff.Constraint) > 0 {
		ed.Constraint = mergeConstraints(ed.Constraint, diff.Constraint)
	}
	return nil
}

// parseMax reads a max cardinality: -1 for "*".
func parseMax(s string) (int, error) {
	if s == "*" || s == "" {
		return -1, nil
	}
	m, err := strconv.Atoi(s)
	if err != nil || m < 0 {
		return 0, fmt.Errorf("max %q is not a number or *", s)
	}
	return m, nil
}

func applyCardinality(ed, diff *ElementDefinition) error {
	if diff.Min != nil {
		if ed.Min != nil && *diff.Min < *ed.Min {
			return fmt.Errorf("min %d is less than the base's min %d", *diff.Min, *ed.Min)
		}
		m := *diff.Min
		ed.Min = &m
	}
	if diff.Max != "" {
		dm, err := parseMax(diff.Max)
		if err != nil {
			return err
		}
		bm, err := parseMax(ed.Max)
		if err != nil {
			return fmt.Errorf("base: %w", err)
		}
		if bm >= 0 && (dm < 0 || dm > bm) {
			return fmt.Errorf("max %s is greater than the base's max %s", diff.Max, ed.Max)
		}
		ed.Max = diff.Max
	}
	if ed.Min != nil && ed.Max != "" && ed.Max != "*" {
		if m, _ := parseMax(ed.Max); *ed.Min > m {
			return fmt.Errorf("min %d is greater than max %s", *ed.Min, ed.Max)
		}
	}
	return nil
}

// quantityKinds are the types defined as profiles of Quantity.
var quantityKinds = map[string]bool{"SimpleQuantity": true, "MoneyQuantity": true, "Age": true, "Count": true, "Distance": true, "Duration": true}

func applyTypes(ed *ElementDefinition, types []elementType) error {
	for _, t := range types {
		ok := len(ed.Type) == 0
		for _, bt := range ed.Type {
			b := bt.typeCode()
			ok = ok || b == t.typeCode() || b == "Resource" || b == "DomainResource" || b == "*" ||
				(b == "Quantity" && quantityKinds[t.typeCode()])
		}
		if !ok {
			return fmt.Errorf("type %s is not one of the base's types (%s)", t.typeCode(), typeList(ed.Type))
		}
	}
	ed.Type = append([]elementType(nil), types...)
	return nil
}

func typeList(ts []elementType) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.typeCode()
	}
	return s
}

func applyBinding(ed *ElementDefinition, b *Binding) error {
	nb := *b
	if ed.Binding != nil {
		if ed.Binding.Strength == "required" && nb.Strength != "" && nb.Strength != "required" {
			return fmt.Errorf("binding strength %s is weaker than the base's required", nb.Strength)
		}
		if nb.ValueSet == "" {
			nb.ValueSet = ed.Binding.ValueSet
		}
		if nb.Strength == "" {
			nb.Strength = ed.Binding.Strength
		}
	}
	ed.Binding = &nb
	return nil
}

// mergeSlicing narrows the base's slicing: discriminators and ordering from the
// differential when it gives them; closed slicing stays closed.
func mergeSlicing(base, diff *Slicing) *Slicing {
	if base == nil {
		cp := *diff
		if cp.Rules == "" {
			cp.Rules = "open"
		}
		return &cp
	}
	out := *base
	if len(diff.Discriminator) > 0 {
		out.Discriminator = diff.Discriminator
	}
	out.Ordered = out.Ordered || diff.Ordered
	if diff.Rules != "" && base.Rules != "closed" {
		out.Rules = diff.Rules
	}
	return &out
}

// mergeConstraints adds the differential's invariants to the base's (a key already there is
// kept as the base has it).
func mergeConstraints(base, diff []Constraint) []Constraint {
	out := append([]Constraint(nil), base...)
	have := make(map[string]bool, len(base))
	for _, c := range base {
		have[c.Key] = true
	}
	for _, c := range diff {
		if !have[c.Key] {
			out = append(out, c)
			have[c.Key] = true
		}
	}
	return out
}
