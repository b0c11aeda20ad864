package fhir

import (
	"fmt"
	"regexp"
	"strings"
)

// ValueSet compose filters (http://hl7.org/fhir/R4/valueset-definitions.html#ValueSet.compose.include.filter),
// evaluated for one code at a time against a CodeSystem index:
//
//	concept/code  is-a, descendent-of, is-not-a, generalizes, child-of, descendent-leaf,
//	              =, in, not-in, regex (whole code), exists
//	display       =, in, not-in, regex, exists
//	other         =, in, not-in, regex on the concept's property of that code, when its
//	              values are codes (parent and child read the hierarchy); exists on any
//
// Anything else cannot be evaluated here and leaves the include unknown.

type vsFilter struct {
	prop, op, value string
	values          map[string]bool // in / not-in
	re              *regexp.Regexp  // regex, anchored to the whole value
	want            bool            // exists
}

func compileFilter(prop, op, value string, ix *csIndex) (*vsFilter, error) {
	f := &vsFilter{prop: prop, op: op, value: value}
	hier := prop == "concept" || prop == "code"
	switch op {
	case "is-a", "descendent-of", "is-not-a", "generalizes", "child-of", "descendent-leaf":
		if !hier {
			return f, fmt.Errorf("filter %s %s on a property other than concept", prop, op)
		}
	case "=":
	case "in", "not-in":
		f.values = map[string]bool{}
		for _, v := range strings.Split(value, ",") {
			f.values[strings.TrimSpace(v)] = true
		}
	case "regex":
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return f, fmt.Errorf("filter %s regex %q: %v", prop, value, err)
		}
		f.re = re
	case "exists":
		switch value {
		case "true":
			f.want = true
		case "false":
		default:
			return f, fmt.Errorf("filter %s exists with value %q (true or false expected)", prop, value)
		}
	default:
		return f, fmt.Errorf("filter operator %q is not supported", op)
	}
	if !hier && op != "exists" && prop != "display" && prop != "parent" && prop != "child" && ix != nil {
		if codes, seen := ix.propKinds[prop]; seen && !codes {
			return f, fmt.Errorf("filter on property %s, whose values are not codes", prop)
		}
	}
	return f, nil
}

// match tells whether code (as the code system spells it) passes the filter.
func (f *vsFilter) match(ix *csIndex, code string) bool {
	switch f.op {
	case "is-a", "descendent-of", "is-not-a", "generalizes", "child-of", "descendent-leaf":
		return f.matchHierarchy(ix, code)
	}
	if f.op == "exists" {
		return f.present(ix, code) == f.want
	}
	vals := f.propertyValues(ix, code)
	switch f.op {
	case "not-in":
		for _, v := range vals {
			if f.values[v] {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		switch {
		case f.op == "=" && v == f.value, f.op == "in" && f.values[v], f.op == "regex" && f.re.MatchString(v):
			return true
		}
	}
	return false
}

func (f *vsFilter) matchHierarchy(ix *csIndex, code string) bool {
	v, known := ix.lookup(f.value)
	if !known {
		v = f.value
	}
	switch f.op {
	case "is-a":
		return known && ix.subsumes(v, code) || code == f.value
	case "is-not-a":
		return !(known && ix.subsumes(v, code) || code == f.value)
	case "descendent-of":
		return known && code != v && ix.subsumes(v, code)
	case "descendent-leaf":
		return known && code != v && ix.subsumes(v, code) && len(ix.children[code]) == 0
	case "child-of":
		for _, p := range ix.parents[code] {
			if p == v {
				return true
			}
		}
		return false
	default: // generalizes: code is value or above it
		return known && ix.subsumes(code, v)
	}
}

// propertyValues lists what the filter's property holds for code.
func (f *vsFilter) propertyValues(ix *csIndex, code string) []string {
	c := ix.concepts[code]
	switch f.prop {
	case "concept", "code":
		return []string{code}
	case "display":
		if c == nil || c.Display == "" {
			return nil
		}
		return []string{c.Display}
	case "parent":
		return ix.parents[code]
	case "child":
		return ix.children[code]
	}
	if c == nil {
		return nil
	}
	var out []string
	for _, p := range c.Property {
		if p.Code == f.prop && p.ValueCode != "" {
			out = append(out, p.ValueCode)
		}
	}
	return out
}

// present tells whether code has the filter's property at all, whatever its value type.
func (f *vsFilter) present(ix *csIndex, code string) bool {
	switch f.prop {
	case "concept", "code", "display", "parent", "child":
		return len(f.propertyValues(ix, code)) > 0
	}
	if c := ix.concepts[code]; c != nil {
		for _, p := range c.Property {
			if p.Code == f.prop {
				return true
			}
		}
	}
	return false
}
