package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// FHIRPathResult is one item of a FHIRPath result: its type (a FHIR type such as code or
// HumanName for elements of the resource, or boolean, integer, decimal, string, date,
// dateTime, time, Quantity for values the expression computed) and its JSON.
type FHIRPathResult struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// EvaluateFHIRPath evaluates a FHIRPath expression against a resource written in JSON or
// in XML (nil or empty: no input) with the R4 definitions and the given packages, following
// the specification strictly (where the validator's invariants follow the HL7 engine's
// leniencies).
func EvaluateFHIRPath(resource []byte, expr string, pkgs ...*Package) ([]FHIRPathResult, error) {
	v, err := NewValidator(pkgs...)
	if err != nil {
		return nil, err
	}
	return v.EvaluateFHIRPath(resource, expr)
}

// EvaluateFHIRPath evaluates expr against resource with the validator's definitions.
func (v *Validator) EvaluateFHIRPath(resource []byte, expr string) ([]FHIRPathResult, error) {
	return v.evaluateFHIRPath(resource, expr, false)
}

// evaluateFHIRPath is EvaluateFHIRPath, refusing typed choice names (valueQuantity) when
// noTypedNames is set.
func (v *Validator) evaluateFHIRPath(resource []byte, expr string, noTypedNames bool) (out []FHIRPathResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("fhirpath: internal error: %v", r)
		}
	}()
	x, err := parseCachedFHIRPath(expr)
	if err != nil {
		return nil, fmt.Errorf("syntax: %w", err)
	}
	c := &vctx{v: v, is: &issues{}, conform: map[confKey]int8{}, invDone: map[invKey]bool{}, typeInvDone: map[*node]bool{}}
	env := &fpEnv{c: c, strict: true, noTypedNames: noTypedNames}
	if len(bytes.TrimSpace(resource)) > 0 {
		j, err := parseDocument(resource, v.types)
		if err != nil {
			return nil, fmt.Errorf("resource: %w", err)
		}
		if j.kind != jsonObject {
			return nil, fmt.Errorf("resource: the document must be a JSON object (a FHIR resource)")
		}
		root := (&reader{types: v.types, issues: c.is}).readResource(j, nil, "")
		if root.typ == "Resource" {
			return nil, fmt.Errorf("resource: no resourceType")
		}
		if root.typ == "Bundle" {
			c.bundle = indexBundle(root)
		}
		env.resource, env.root, env.context, env.this = root, root, root, []item{{n: root}}
	}
	items, err := env.eval(x, env.this)
	if err != nil {
		return nil, err
	}
	out = make([]FHIRPathResult, 0, len(items))
	for _, it := range items {
		t, raw := itemJSON(it)
		out = append(out, FHIRPathResult{Type: t, Value: raw})
	}
	return out, nil
}

var systemJSONTypes = map[valKind]string{
	kString: "string", kInteger: "integer", kDecimal: "decimal", kBoolean: "boolean",
	kDate: "date", kDateTime: "dateTime", kTime: "time", kQuantity: "Quantity", kTypeInfo: "TypeInfo",
}

// itemJSON renders an item: FHIR elements as their JSON, primitives as JSON values,
// quantities as {"value":…,"unit":…}, dates and times as strings.
func itemJSON(it item) (string, json.RawMessage) {
	var b bytes.Buffer
	if it.n != nil {
		writeNodeValue(&b, it.n)
		return it.n.typ, b.Bytes()
	}
	switch it.k {
	case kBoolean, kInteger, kDecimal:
		b.WriteString(itemString(it))
	case kQuantity:
		b.WriteString(`{"value":`)
		b.WriteString(itemString(item{k: kDecimal, f: it.f, s: it.s}))
		b.WriteString(`,"unit":`)
		writeJSONString(&b, it.unit)
		b.WriteByte('}')
	case kTypeInfo:
		b.WriteString(`{"namespace":`)
		writeJSONString(&b, it.s)
		b.WriteString(`,"name":`)
		writeJSONString(&b, it.unit)
		b.WriteByte('}')
	default:
		writeJSONString(&b, it.s)
	}
	return systemJSONTypes[it.k], b.Bytes()
}

// writeJSONString writes s as a JSON string, leaving <, > and & as they are.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // the newline Encode adds
}

// writeNodeValue writes a primitive's value, or an element or resource as a JSON object.
func writeNodeValue(b *bytes.Buffer, n *node) {
	if isPrimitive(n.typ) {
		if !n.hasValue {
			b.WriteString("null")
			return
		}
		switch primitiveTypes[n.typ] {
		case jsonNumber, jsonBool:
			b.WriteString(n.value)
		default:
			writeJSONString(b, n.value)
		}
		return
	}
	writeNodeObject(b, n)
}

// writeNodeObject writes the children of n as a JSON object, in document order, with
// repeating elements as arrays and the extensions of primitives under _name.
func writeNodeObject(b *bytes.Buffer, n *node) {
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(b, k)
		b.WriteByte(':')
	}
	if n.resource {
		key("resourceType")
		writeJSONString(b, n.typ)
	}
	var order []string
	groups := map[string][]*node{}
	for _, c := range n.children {
		k := jsonPropName(c)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		g := groups[k]
		if !isPrimitive(g[0].typ) || g[0].list || g[0].hasValue {
			key(k) // a single primitive with extensions only has just its _name
			writeGroup(b, g, func(c *node) { writeNodeValue(b, c) })
		}
		if isPrimitive(g[0].typ) && hasAnyChildren(g) {
			key("_" + k)
			writeGroup(b, g, func(c *node) {
				if len(c.children) == 0 {
					b.WriteString("null")
					return
				}
				writeNodeObject(b, &node{children: c.children})
			})
		}
	}
	b.WriteByte('}')
}

func writeGroup(b *bytes.Buffer, g []*node, write func(*node)) {
	if !g[0].list {
		write(g[0])
		return
	}
	b.WriteByte('[')
	for i, c := range g {
		if i > 0 {
			b.WriteByte(',')
		}
		write(c)
	}
	b.WriteByte(']')
}

func hasAnyChildren(g []*node) bool {
	for _, c := range g {
		if len(c.children) > 0 {
			return true
		}
	}
	return false
}

// jsonPropName is an element's JSON property: choices carry their type (valueQuantity).
func jsonPropName(n *node) string {
	if n.choice && n.typ != "" {
		return n.name + strings.ToUpper(n.typ[:1]) + n.typ[1:]
	}
	return n.name
}
