package fhir

import (
	"fmt"
	"strconv"
	"strings"
)

// node is one element of the submitted resource, read from JSON with the base definitions:
// choice elements carry their base name and chosen type, primitives carry their value and
// the id/extension of their "_name" twin. Validation and FHIRPath both walk this tree.
type node struct {
	name     string // element name; for a choice the base name ("value")
	typ      string // FHIR type code, or the resource type for resources
	value    string // primitive value as written (numbers keep their literal)
	hasValue bool
	children []*node // document order
	parent   *node
	index    int  // position among siblings of the same name
	list     bool // the element repeats, so its location carries [index]
	choice   bool
	resource bool // a resource: the root, contained, Bundle.entry.resource…
	line     int
	col      int
	path     string // location, computed on demand
	bundle   *bundleIndex
}

// location is the FHIRPath HAPI prints: Bundle.entry[6].resource.ofType(Encounter).
func (n *node) location() string {
	if n.path != "" {
		return n.path
	}
	if n.parent == nil {
		n.path = n.typ
		return n.path
	}
	var b strings.Builder
	b.WriteString(n.parent.location())
	b.WriteByte('.')
	b.WriteString(n.name)
	if n.list {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(n.index))
		b.WriteByte(']')
	}
	if n.resource || n.choice {
		b.WriteString(".ofType(")
		b.WriteString(n.typ)
		b.WriteByte(')')
	}
	n.path = b.String()
	return n.path
}

// childrenNamed returns the children called name.
func (n *node) childrenNamed(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// childValue returns the primitive value of child name ("" when absent).
func (n *node) childValue(name string) string {
	if c := n.child(name); c != nil {
		return c.value
	}
	return ""
}

// resourceRoot returns the nearest enclosing resource (n itself when it is one).
func (n *node) resourceRoot() *node {
	for x := n; x != nil; x = x.parent {
		if x.resource {
			return x
		}
	}
	return nil
}

// reader turns JSON into nodes, reporting what the base specification does not allow.
type reader struct {
	types  map[string]*typeInfo
	issues *issues
}

// readResource reads a JSON object that should be a resource.
func (rd *reader) readResource(j *jsonNode, parent *node, name string) *node {
	return rd.readResourceAs(&node{name: name, parent: parent}, j)
}

// readResourceAs reads j into n, whose name, parent and index are already set (so that the
// issues found on the way carry the right location).
func (rd *reader) readResourceAs(n *node, j *jsonNode) *node {
	n.resource, n.line, n.col, n.typ = true, j.line, j.col, "Resource"
	if !rd.resourceTypeRules(n, j) {
		return n
	}
	n.typ = j.str("resourceType")
	if _, ok := rd.types[n.typ]; !ok || !isResourceName(n.typ) {
		rd.issues.add(n, SeverityError, CodeStructure, fmt.Sprintf("This does not appear to be a FHIR resource (unknown name '%s')", n.typ))
		return n
	}
	rd.readChildren(n, j, n.typ)
	return n
}

// isResourceName tells resource types from data types: resources start upper case and are
// not data types (data types are also capitalised, so check the known list).
func isResourceName(t string) bool {
	return t != "" && t[0] >= 'A' && t[0] <= 'Z' && !dataTypes[t]
}

var dataTypes = map[string]bool{
	"Element": true, "BackboneElement": true, "Address": true, "Age": true, "Annotation": true,
	"Attachment": true, "CodeableConcept": true, "Coding": true, "ContactDetail": true,
	"ContactPoint": true, "Contributor": true, "Count": true, "DataRequirement": true,
	"Distance": true, "Dosage": true, "Duration": true, "ElementDefinition": true,
	"Expression": true, "Extension": true, "HumanName": true, "Identifier": true,
	"MarketingStatus": true, "Meta": true, "Money": true, "Narrative": true,
	"ParameterDefinition": true, "Period": true, "Population": true, "ProdCharacteristic": true,
	"ProductShelfLife": true, "Quantity": true, "Range": true, "Ratio": true, "Reference": true,
	"RelatedArtifact": true, "SampledData": true, "Signature": true, "SubstanceAmount": true,
	"Timing": true, "TriggerDefinition": true, "UsageContext": true, "MoneyQuantity": true,
	"SimpleQuantity": true,
}

// readChildren reads the properties of object j as children of n, whose content is
// described by typeInfo key.
func (rd *reader) readChildren(n *node, j *jsonNode, key string) {
	ti := rd.types[key]
	if ti == nil {
		rd.issues.add(n, SeverityError, CodeStructure, fmt.Sprintf("Unknown type %s", key))
		return
	}
	if j.kind == jsonObject && len(j.props) == 0 {
		rd.issues.add(n, SeverityError, CodeStructure, "Object must have some content")
	}
	byName := rd.objectRules(n, j)
	done := map[string]bool{}
	counts := map[string]int{}
	for _, p := range j.props {
		name := p.name
		if (n.resource && name == "resourceType") || done[name] || p.dup {
			continue
		}
		ext := false
		if strings.HasPrefix(name, "_") {
			ext = true
			name = name[1:]
		}
		be, t := ti.lookup(name)
		if be == nil {
			at := &node{parent: n, line: p.value.line, col: p.value.col, name: p.name}
			rd.issues.add(at, SeverityError, CodeStructure, fmt.Sprintf("Unrecognised property '@%s'", p.name))
			continue
		}
		if ext && !isPrimitive(t) {
			at := &node{parent: n, line: p.value.line, col: p.value.col, name: p.name}
			rd.issues.add(at, SeverityError, CodeStructure, fmt.Sprintf("Unrecognised property '@%s'", p.name))
			continue
		}
		done[name], done["_"+name] = true, true
		val, extVal := byName[name], byName["_"+name]
		if val != nil && !rd.valueRules(n, name, val) {
			val = nil
		}
		if extVal != nil && !rd.valueRules(n, "_"+name, extVal) {
			extVal = nil
		}
		if val == nil && extVal == nil {
			continue
		}
		if isPrimitive(t) {
			rd.readPrimitives(n, be, t, name, val, extVal, counts)
		} else if val != nil {
			rd.readComplex(n, be, t, name, val, counts)
		}
	}
}

func (rd *reader) readComplex(n *node, be *baseElem, t, jsonName string, val *jsonNode, counts map[string]int) {
	items := []*jsonNode{val}
	if val.kind == jsonArray {
		items = val.items
		if !be.list {
			rd.issues.add(&node{parent: n, name: jsonName, line: val.line, col: val.col}, SeverityError, CodeStructure,
				fmt.Sprintf("This property must be an Object, not an array (%s at %s)", jsonName, n.location()))
			return
		}
	} else if be.list {
		rd.issues.add(&node{parent: n, name: jsonName, line: val.line, col: val.col}, SeverityError, CodeStructure,
			fmt.Sprintf("The property %s must be a JSON Array, not an Object (at %s)", jsonName, n.location()))
	}
	for _, it := range items {
		c := &node{name: be.name, typ: t, parent: n, index: counts[be.name], list: be.list, choice: be.choice, line: it.line, col: it.col}
		counts[be.name]++
		if it.kind == jsonNull {
			rd.issues.add(c, SeverityError, CodeInvalid, msgJSONNull)
			continue
		}
		if it.kind != jsonObject {
			rd.issues.add(c, SeverityError, CodeStructure, fmt.Sprintf("This property must be an object, not %s (%s at %s)", describeJSON(it), jsonName, c.location()))
			continue
		}
		if t == "Resource" {
			n.children = append(n.children, rd.readResourceAs(&node{name: be.name, parent: n, index: c.index, list: c.list}, it))
			continue
		}
		n.children = append(n.children, c)
		rd.readChildren(c, it, be.childKey(t))
	}
}

func describeJSON(j *jsonNode) string {
	switch j.kind {
	case jsonArray:
		return "an array"
	case jsonObject:
		return "an object"
	case jsonString:
		return "a primitive property"
	}
	return "a " + j.kind.String()
}

// readPrimitives reads name and its "_name" twin (ids and extensions of the values).
func (rd *reader) readPrimitives(n *node, be *baseElem, t, jsonName string, val, extVal *jsonNode, counts map[string]int) {
	var vals, exts []*jsonNode
	isArr := (val != nil && val.kind == jsonArray) || (extVal != nil && extVal.kind == jsonArray)
	if val != nil {
		if val.kind == jsonArray {
			vals = val.items
		} else {
			vals = []*jsonNode{val}
		}
	}
	if extVal != nil {
		if extVal.kind == jsonArray {
			exts = extVal.items
		} else {
			exts = []*jsonNode{extVal}
		}
	}
	where := val
	if where == nil {
		where = extVal
	}
	if isArr && !be.list {
		rd.issues.add(&node{parent: n, name: jsonName, line: where.line, col: where.col}, SeverityError, CodeStructure,
			fmt.Sprintf("This property must be an simple value, not an array (%s at %s)", jsonName, n.location()))
		return
	}
	if !isArr && be.list {
		rd.issues.add(&node{parent: n, name: jsonName, line: where.line, col: where.col}, SeverityError, CodeStructure,
			fmt.Sprintf("The property %s must be a JSON Array, not a %s (at %s)", jsonName, where.kind, n.location()))
	}
	if val != nil && extVal != nil && len(vals) != len(exts) {
		rd.issues.add(&node{parent: n, name: jsonName, line: where.line, col: where.col}, SeverityError, CodeStructure,
			fmt.Sprintf("The arrays %s and _%s have different lengths (%d and %d)", jsonName, jsonName, len(vals), len(exts)))
	}
	for i := 0; i < max(len(vals), len(exts)); i++ {
		var v, e *jsonNode
		if i < len(vals) && vals[i].kind != jsonNull {
			v = vals[i]
		}
		if i < len(exts) && exts[i].kind != jsonNull {
			e = exts[i]
		}
		if v == nil && e == nil {
			at := where
			if i < len(vals) {
				at = vals[i]
			}
			rd.issues.add(&node{parent: n, name: jsonName, line: at.line, col: at.col}, SeverityError, CodeStructure,
				fmt.Sprintf("Primitive types must have a value or must have child extensions (%s at %s)", jsonName, n.location()))
			continue
		}
		c := &node{name: be.name, typ: t, parent: n, index: counts[be.name], list: be.list, choice: be.choice}
		counts[be.name]++
		pos := v
		if pos == nil {
			pos = e
		}
		c.line, c.col = pos.line, pos.col
		n.children = append(n.children, c)
		if v != nil {
			rd.readValue(c, v, t, e != nil && e.kind == jsonObject && len(e.props) > 0)
		}
		if e != nil {
			if e.kind != jsonObject {
				rd.issues.add(c, SeverityError, CodeStructure, fmt.Sprintf("This property must be an object, not %s (_%s at %s)", describeJSON(e), jsonName, c.location()))
				continue
			}
			for _, p := range e.props {
				if p.name == "value" {
					rd.issues.add(c, SeverityError, CodeStructure, "Unrecognised property '@value'")
				}
			}
			rd.readChildren(c, e, t)
		}
	}
}

// readValue stores a primitive's value, checking its JSON kind (HAPI's "the primitive value
// must be a string/number/boolean").
func (rd *reader) readValue(c *node, v *jsonNode, t string, hasExt bool) {
	want := primitiveTypes[t]
	switch v.kind {
	case jsonObject, jsonArray:
		rd.issues.add(c, SeverityError, CodeStructure, fmt.Sprintf("This property must be an simple value, not %s (%s at %s)", describeJSON(v), c.name, c.location()))
		return
	}
	if v.kind != want {
		rd.issues.add(c, SeverityError, CodeStructure, fmt.Sprintf("Error parsing JSON: the primitive value must be a %s", want))
	}
	c.value, c.hasValue = v.text, true
	if v.kind == jsonString && rd.blankValue(c, v.text, hasExt) {
		return
	}
	if sev, msg := checkPrimitive(t, v.text); msg != "" {
		rd.issues.add(c, sev, CodeValue, msg)
	}
}
