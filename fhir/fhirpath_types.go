package fhir

import (
	"fmt"
	"strings"
)

// FHIRPath types: is, as, ofType and type() over System values and FHIR elements.

// fhirParents are the FHIR types other FHIR types specialise, for is().
var fhirParents = map[string]string{
	"code": "string", "id": "string", "markdown": "string", "uuid": "uri", "url": "uri",
	"canonical": "uri", "oid": "uri", "positiveInt": "integer", "unsignedInt": "integer",
	"Age": "Quantity", "Duration": "Quantity", "Distance": "Quantity", "Count": "Quantity",
	"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity",
}

var systemTypes = map[valKind]string{
	kString: "String", kInteger: "Integer", kDecimal: "Decimal", kBoolean: "Boolean",
	kDate: "Date", kDateTime: "DateTime", kTime: "Time", kQuantity: "Quantity",
}

// splitType separates the namespace of a type specifier: FHIR.string → FHIR, string.
func splitType(t string) (string, string) {
	if i := strings.IndexByte(t, '.'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return "", t
}

// isType tells whether an item is of type t (with subtypes when sub is set).
func isType(it item, t string, sub bool) bool {
	ns, name := splitType(t)
	if it.n == nil {
		if ns == "FHIR" {
			return false
		}
		sys := systemTypes[it.k]
		return sys == name || (ns == "" && sys != "" && strings.EqualFold(sys, name) && isPrimitive(name))
	}
	if ns == "System" {
		return false
	}
	n := it.n
	for typ := n.typ; typ != ""; typ = fhirParents[typ] {
		if typ == name {
			return true
		}
		if !sub && isPrimitive(typ) {
			return false
		}
	}
	switch name {
	case "Resource":
		return n.resource
	case "DomainResource":
		return n.resource && n.typ != "Bundle" && n.typ != "Parameters" && n.typ != "Binary"
	case "Element":
		return !n.resource
	case "BackboneElement":
		return !n.resource && !isPrimitive(n.typ) && !dataTypes[n.typ]
	}
	return false
}

// knownType tells whether a type specifier names a System or FHIR type.
func (e *fpEnv) knownType(t string) bool {
	ns, name := splitType(t)
	for _, s := range systemTypes {
		if s == name && ns != "FHIR" {
			return true
		}
	}
	if ns == "System" {
		return false
	}
	switch {
	case isPrimitive(name), dataTypes[name], name == "Resource", name == "DomainResource", name == "Element":
		return true
	case e.c != nil && e.c.v != nil:
		_, ok := e.c.v.types[name]
		return ok
	}
	return isResourceName(name)
}

// typeOp is is/as (operators and functions).
func (e *fpEnv) typeOp(op, t string, in []item) ([]item, error) {
	if !e.knownType(t) {
		ns, _ := splitType(t)
		if ns != "System" || op != "is" {
			return nil, fmt.Errorf("unknown type %s", t)
		}
	}
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		// The R4 core invariants (dom-3: descendants().as(canonical)) rely on the HL7
		// engine's as() filtering a collection like ofType(); the specification makes it
		// an error, which strict evaluation follows.
		switch {
		case op == "as" && !e.strict:
			return e.ofType(in, t)
		case !e.strict:
			return nil, nil // as the validator always did: is on a collection is empty
		}
		return nil, fmt.Errorf("%s needs a single item, found %d", op, len(in))
	}
	if op == "is" {
		return boolColl(isType(in[0], t, true)), nil
	}
	if isType(in[0], t, false) {
		return in, nil
	}
	return nil, nil
}

// ofType keeps the items of type t.
func (e *fpEnv) ofType(in []item, t string) ([]item, error) {
	if !e.knownType(t) {
		return nil, fmt.Errorf("unknown type %s", t)
	}
	var out []item
	for _, it := range in {
		if isType(it, t, false) {
			out = append(out, it)
		}
	}
	return out, nil
}

// typeInfoOf is type(): the namespace and name of each item's type.
func typeInfoOf(in []item) []item {
	out := make([]item, 0, len(in))
	for _, it := range in {
		if it.n != nil {
			out = append(out, item{k: kTypeInfo, s: "FHIR", unit: it.n.typ})
		} else if name := systemTypes[it.k]; name != "" {
			out = append(out, item{k: kTypeInfo, s: "System", unit: name})
		}
	}
	return out
}

// systemTypeName names an item's type for messages.
func systemTypeName(p item) string {
	if p.n != nil {
		return p.n.typ
	}
	if s := systemTypes[p.k]; s != "" {
		return s
	}
	return "value"
}

// checkMemberName refuses, in strict evaluation, a name that no element of the input's
// types has (name.given1, Observation.valueQuantity1), and a path starting with another
// resource type than the input's (Encounter.name on a Patient).
func (e *fpEnv) checkMemberName(in []item, name string, atStart bool) error {
	if e.c == nil || e.c.v == nil {
		return nil
	}
	nodes := 0
	for _, it := range in {
		if it.n == nil {
			continue
		}
		nodes++
		ti := e.c.v.types[e.typeKey(it.n)]
		if ti == nil || ti.elems[name] != nil || (name == "value" && isPrimitive(it.n.typ)) {
			return nil
		}
		if be, _ := ti.lookup(name); be != nil {
			return nil // a choice by its typed name (valueQuantity) of another type: empty
		}
	}
	if nodes == 0 {
		return nil
	}
	if atStart && isResourceName(name) && e.c.v.types[name] != nil {
		return fmt.Errorf("the expression is for %s, but the input is %s", name, in[0].n.typ)
	}
	return fmt.Errorf("%s has no element %s", in[0].n.typ, name)
}

// typeKey names the type information describing a node's children: its type, or for a
// backbone element the path of its definition.
func (e *fpEnv) typeKey(n *node) string {
	if (n.typ != "BackboneElement" && n.typ != "Element") || n.parent == nil {
		return n.typ
	}
	if ti := e.c.v.types[e.typeKey(n.parent)]; ti != nil {
		if be := ti.elems[n.name]; be != nil {
			return be.childKey(n.typ)
		}
	}
	return ""
}

// refuseTypedName fails on the typed name of a choice element of the input's types.
func (e *fpEnv) refuseTypedName(in []item, name string) error {
	for _, it := range in {
		if it.n == nil || e.c == nil || e.c.v == nil {
			continue
		}
		if ti := e.c.v.types[e.typeKey(it.n)]; ti != nil && ti.elems[name] == nil {
			if be, _ := ti.lookup(name); be != nil {
				return fmt.Errorf("%s is the typed name of the choice %s[x]: use %s.ofType()", name, be.name, be.name)
			}
		}
	}
	return nil
}

// checkCastMember refuses, in strict evaluation, a name that the type an empty collection
// was cast to has no element for: (Observation.value as Period).unit.
func (e *fpEnv) checkCastMember(left *fpNode, name string) error {
	isCast := (left.op == opBinary && left.name == "as") || (left.op == opFunc && (left.name == "as" || left.name == "ofType"))
	if !isCast || left.typ == "" || e.c == nil || e.c.v == nil {
		return nil
	}
	ns, t := splitType(left.typ)
	ti := e.c.v.types[t]
	if ns == "System" || ti == nil || ti.elems[name] != nil {
		return nil
	}
	if be, _ := ti.lookup(name); be != nil && !e.noTypedNames {
		return nil
	}
	return fmt.Errorf("%s has no element %s", t, name)
}
