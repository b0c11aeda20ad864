package fhir

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FHIRPath evaluation over the node tree. A value in a collection is an item: either an
// element of the resource (n != nil) or a System value (string, integer, decimal, boolean,
// date, dateTime, time, quantity, or the type information type() returns).

type valKind uint8

const (
	kNone valKind = iota
	kString
	kInteger
	kDecimal
	kBoolean
	kDate
	kDateTime
	kTime
	kQuantity
	kTypeInfo // s: namespace, unit: name
)

type item struct {
	n    *node
	k    valKind
	s    string // string; date/time text; decimal or quantity number as written
	unit string // quantity unit; type name of a kTypeInfo
	i    int64
	f    float64
	b    bool
}

func strItem(s string) item  { return item{k: kString, s: s} }
func boolItem(b bool) item   { return item{k: kBoolean, b: b} }
func intItem(i int64) item   { return item{k: kInteger, i: i} }
func boolColl(b bool) []item { return []item{boolItem(b)} }
func nodeItems(ns []*node) []item {
	out := make([]item, len(ns))
	for i, n := range ns {
		out[i] = item{n: n}
	}
	return out
}

// decItem is a computed decimal, rounded to 15 significant digits (so 0.1 + 0.2 = 0.3).
func decItem(f float64) item {
	f = roundSig(f)
	return item{k: kDecimal, f: f, s: formatDecimal(f)}
}

func roundSig(f float64) float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	return r
}

func formatDecimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// errUnsupported marks what the evaluator does not implement at run time: the invariant is
// then reported as not evaluated.
var errUnsupported = errors.New("not supported")

var quantityTypes = map[string]bool{
	"Quantity": true, "Age": true, "Duration": true, "Distance": true, "Count": true,
	"SimpleQuantity": true, "MoneyQuantity": true,
}

// prim returns the System value of an item (for nodes: of their primitive value).
func prim(it item) (item, bool) {
	if it.n == nil {
		return it, it.k != kNone
	}
	n := it.n
	if !n.hasValue {
		if quantityTypes[n.typ] {
			return nodeQuantity(n)
		}
		return item{}, false
	}
	switch n.typ {
	case "boolean":
		return boolItem(n.value == "true"), true
	case "integer", "positiveInt", "unsignedInt":
		i, err := strconv.ParseInt(n.value, 10, 64)
		if err != nil {
			return item{}, false
		}
		return intItem(i), true
	case "decimal":
		f, err := strconv.ParseFloat(n.value, 64)
		if err != nil {
			return item{}, false
		}
		return item{k: kDecimal, f: f, s: n.value}, true
	case "date":
		return item{k: kDate, s: n.value}, true
	case "dateTime", "instant":
		return item{k: kDateTime, s: n.value}, true
	case "time":
		return item{k: kTime, s: n.value}, true
	}
	return strItem(n.value), true
}

func nodeQuantity(n *node) (item, bool) {
	v := n.child("value")
	if v == nil {
		return item{}, false
	}
	f, err := strconv.ParseFloat(v.value, 64)
	if err != nil {
		return item{}, false
	}
	unit := n.childValue("code")
	if unit == "" {
		unit = n.childValue("unit")
	}
	return item{k: kQuantity, f: f, s: v.value, unit: unit}, true
}

// fpEnv is the evaluation environment of one expression.
type fpEnv struct {
	c        *vctx
	pkg      *Package // package of the definition holding the expression, for look-ups
	resource *node    // %resource
	root     *node    // %rootResource
	context  *node    // %context
	this     []item
	index    int
	total    []item
	depth    int
	// strict follows the specification where the HL7 engine the published invariants were
	// written against is lenient (string functions on an empty input answer false there).
	strict bool
	vars   map[string][]item // defineVariable and caller-supplied variables
	// noTypedNames refuses the typed name of a choice (valueQuantity), as the HL7 engine
	// checking an expression without allowPolymorphicNames does (the official suite's mode).
	noTypedNames bool
	now          time.Time
}

func (e *fpEnv) eval(x *fpNode, focus []item) ([]item, error) {
	if e.depth++; e.depth > fpMaxEvalDepth {
		return nil, errors.New("expression nests too deeply")
	}
	defer func() { e.depth-- }()
	switch x.op {
	case opLiteral:
		return []item{x.lit}, nil
	case opEmpty:
		return nil, nil
	case opThis:
		return e.this, nil
	case opIndex:
		return []item{intItem(int64(e.index))}, nil
	case opTotal:
		return e.total, nil
	case opVar:
		return e.variable(x.name)
	case opIdent:
		return e.ident(x, focus)
	case opFunc:
		in := focus
		if x.left != nil {
			var err error
			if in, err = e.eval(x.left, focus); err != nil {
				return nil, err
			}
		}
		return e.call(x, in, focus)
	case opIndexer:
		return e.indexer(x, focus)
	case opUnary:
		return e.unary(x, focus)
	case opBinary:
		return e.binary(x, focus)
	}
	return nil, fmt.Errorf("unknown expression node: %w", errUnsupported)
}

func nodeColl(n *node) []item {
	if n == nil {
		return nil
	}
	return []item{{n: n}}
}

// variable is %name: the environment variables of FHIRPath and FHIR.
func (e *fpEnv) variable(name string) ([]item, error) {
	if v, ok := e.vars[name]; ok {
		return v, nil
	}
	switch name {
	case "resource":
		return nodeColl(e.resource), nil
	case "rootResource":
		return nodeColl(e.root), nil
	case "context":
		return nodeColl(e.context), nil
	case "ucum":
		return []item{strItem("http://unitsofmeasure.org")}, nil
	case "sct":
		return []item{strItem("http://snomed.info/sct")}, nil
	case "loinc":
		return []item{strItem("http://loinc.org")}, nil
	}
	if strings.HasPrefix(name, "vs-") {
		return []item{strItem("http://hl7.org/fhir/ValueSet/" + name[3:])}, nil
	}
	if strings.HasPrefix(name, "ext-") {
		return []item{strItem("http://hl7.org/fhir/StructureDefinition/" + name[4:])}, nil
	}
	return nil, fmt.Errorf("unknown variable %%%s: %w", name, errUnsupported)
}

func (e *fpEnv) ident(x *fpNode, focus []item) ([]item, error) {
	in := focus
	if x.left != nil {
		var err error
		if in, err = e.eval(x.left, focus); err != nil {
			return nil, err
		}
	} else if len(focus) == 1 && focus[0].n != nil && focus[0].n.resource && focus[0].n.typ == x.name {
		return focus, nil // a path may start with the resource type: "Patient.name"
	}
	if e.noTypedNames {
		if err := e.refuseTypedName(in, x.name); err != nil {
			return nil, err
		}
	}
	out := fpMember(in, x.name)
	if len(out) == 0 && e.strict {
		if len(in) == 0 && x.left != nil {
			return nil, e.checkCastMember(x.left, x.name)
		}
		return nil, e.checkMemberName(in, x.name, x.left == nil)
	}
	return out, nil
}

func (e *fpEnv) indexer(x *fpNode, focus []item) ([]item, error) {
	in, err := e.eval(x.args[0], focus)
	if err != nil {
		return nil, err
	}
	idx, err := e.eval(x.args[1], focus)
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, nil
	}
	if len(idx) != 1 || idx[0].k != kInteger {
		return nil, errors.New("an indexer needs one integer")
	}
	if i := idx[0].i; i >= 0 && i < int64(len(in)) {
		return in[i : i+1], nil
	}
	return nil, nil
}

func (e *fpEnv) unary(x *fpNode, focus []item) ([]item, error) {
	v, err := e.eval(x.args[0], focus)
	if err != nil || len(v) == 0 {
		return v, err
	}
	if len(v) > 1 {
		return nil, fmt.Errorf("unary %s on a collection of %d items", x.name, len(v))
	}
	p, ok := prim(v[0])
	switch {
	case ok && x.name == "+" && (p.k == kInteger || p.k == kDecimal || p.k == kQuantity):
		return []item{p}, nil
	case ok && p.k == kInteger:
		return []item{intItem(-p.i)}, nil
	case ok && (p.k == kDecimal || p.k == kQuantity):
		p.f = -p.f
		if strings.HasPrefix(p.s, "-") {
			p.s = p.s[1:]
		} else if p.s != "" && p.f != 0 {
			p.s = "-" + p.s
		}
		return []item{p}, nil
	}
	return nil, fmt.Errorf("unary %s needs a number", x.name)
}

// fpMember navigates to children called name; resources are also reached by their type.
func fpMember(in []item, name string) []item {
	var out []item
	for _, it := range in {
		if it.n == nil {
			if it.k == kTypeInfo && (name == "namespace" || name == "name") {
				if name == "name" {
					out = append(out, strItem(it.unit))
				} else {
					out = append(out, strItem(it.s))
				}
			}
			continue
		}
		if name == "value" && it.n.hasValue && isPrimitive(it.n.typ) {
			// As in the HL7 engine, value on a primitive is the primitive itself
			// (dk-core's cpr invariant on Identifier.value reads value.matches(…)).
			out = append(out, it)
			continue
		}
		for _, c := range it.n.children {
			if c.name == name || (c.choice && typedChoiceName(c, name)) {
				out = append(out, item{n: c})
			}
		}
	}
	return out
}

// typedChoiceName tells whether name is the typed JSON name of choice element c: as in the
// HL7 engine, valueQuantity reaches value when it is a Quantity (and nothing otherwise).
func typedChoiceName(c *node, name string) bool {
	b, t := len(c.name), c.typ
	if len(name) != b+len(t) || t == "" || name[:b] != c.name {
		return false
	}
	f := t[0]
	if 'a' <= f && f <= 'z' {
		f -= 'a' - 'A'
	}
	return name[b] == f && name[b+1:] == t[1:]
}

// boolOf converts a collection to a boolean for logic: (value, known).
func boolOf(v []item) (bool, bool, error) {
	if len(v) == 0 {
		return false, false, nil
	}
	if len(v) > 1 {
		return false, false, errors.New("a boolean was expected but the collection has more than one item")
	}
	p, ok := prim(v[0])
	if ok && p.k == kBoolean {
		return p.b, true, nil
	}
	return true, true, nil // a single non-boolean item counts as true
}

// logic evaluates and, or, xor and implies with three-valued logic.
func (e *fpEnv) logic(x *fpNode, focus []item) ([]item, error) {
	l, err := e.eval(x.args[0], focus)
	if err != nil {
		return nil, err
	}
	lb, lk, err := boolOf(l)
	if err != nil {
		return nil, err
	}
	// Short cuts (also keep unneeded right sides from failing the whole expression).
	switch {
	case x.name == "and" && lk && !lb:
		return boolColl(false), nil
	case x.name == "or" && lk && lb:
		return boolColl(true), nil
	case x.name == "implies" && lk && !lb:
		return boolColl(true), nil
	}
	r, err := e.eval(x.args[1], focus)
	if err != nil {
		return nil, err
	}
	rb, rk, err := boolOf(r)
	if err != nil {
		return nil, err
	}
	switch x.name {
	case "and":
		if rk && !rb {
			return boolColl(false), nil
		}
		if lk && rk {
			return boolColl(true), nil
		}
	case "or":
		if rk && rb {
			return boolColl(true), nil
		}
		if lk && rk {
			return boolColl(false), nil
		}
	case "xor":
		if lk && rk {
			return boolColl(lb != rb), nil
		}
	case "implies":
		if rk && rb {
			return boolColl(true), nil
		}
		if lk && rk {
			return boolColl(false), nil
		}
	}
	return nil, nil
}

func (e *fpEnv) binary(x *fpNode, focus []item) ([]item, error) {
	switch x.name {
	case "and", "or", "xor", "implies":
		return e.logic(x, focus)
	case "is", "as":
		l, err := e.eval(x.args[0], focus)
		if err != nil {
			return nil, err
		}
		return e.typeOp(x.name, x.typ, l)
	}
	l, err := e.eval(x.args[0], focus)
	if err != nil {
		return nil, err
	}
	r, err := e.eval(x.args[1], focus)
	if err != nil {
		return nil, err
	}
	switch x.name {
	case "|":
		return union(l, r), nil
	case "=", "!=":
		return equality(l, r, x.name == "!=")
	case "~", "!~":
		return boolColl(equivalentColls(l, r) == (x.name == "~")), nil
	case "in", "contains":
		return membership(x.name, l, r)
	case "<", ">", "<=", ">=":
		return comparison(x.name, l, r)
	case "&":
		return concat(l, r)
	}
	return arith(x.name, l, r)
}

func equality(l, r []item, negate bool) ([]item, error) {
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	if len(l) != len(r) {
		return boolColl(negate), nil
	}
	for i := range l {
		eq, known := equalItems(l[i], r[i])
		if !known {
			return nil, nil
		}
		if !eq {
			return boolColl(negate), nil
		}
	}
	return boolColl(!negate), nil
}

// equivalentColls is ~ on collections: same size, every item equivalent to one of the other.
func equivalentColls(l, r []item) bool {
	if len(l) != len(r) {
		return false
	}
	used := make([]bool, len(r))
	for _, a := range l {
		found := false
		for j, b := range r {
			if !used[j] && equivalentItems(a, b) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func membership(op string, l, r []item) ([]item, error) {
	if op == "contains" {
		l, r = r, l
	}
	if len(l) == 0 {
		return nil, nil
	}
	if len(l) > 1 {
		return nil, fmt.Errorf("the single side of %s has %d items", op, len(l))
	}
	for _, it := range r {
		if eq, _ := equalItems(l[0], it); eq {
			return boolColl(true), nil
		}
	}
	return boolColl(false), nil
}

func comparison(op string, l, r []item) ([]item, error) {
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, fmt.Errorf("%s compares single items, found %d and %d", op, len(l), len(r))
	}
	a, oka := prim(l[0])
	b, okb := prim(r[0])
	if !oka || !okb {
		return nil, fmt.Errorf("%s cannot compare complex values", op)
	}
	if !comparableKinds(a.k, b.k) {
		return nil, fmt.Errorf("%s cannot compare %s and %s", op, systemTypeName(a), systemTypeName(b))
	}
	c, ok := compareItems(a, b)
	if !ok {
		return nil, nil
	}
	switch op {
	case "<":
		return boolColl(c < 0), nil
	case ">":
		return boolColl(c > 0), nil
	case "<=":
		return boolColl(c <= 0), nil
	}
	return boolColl(c >= 0), nil
}

func comparableKinds(a, b valKind) bool {
	num := func(k valKind) bool { return k == kInteger || k == kDecimal }
	date := func(k valKind) bool { return k == kDate || k == kDateTime }
	return a == b || (num(a) && num(b)) || (date(a) && date(b))
}

func concat(l, r []item) ([]item, error) {
	if len(l) > 1 || len(r) > 1 {
		return nil, errors.New("& concatenates single strings")
	}
	var b strings.Builder
	for _, side := range [][]item{l, r} {
		if len(side) == 1 {
			p, ok := prim(side[0])
			if !ok || p.k != kString {
				return nil, errors.New("& concatenates strings")
			}
			b.WriteString(p.s)
		}
	}
	return []item{strItem(b.String())}, nil
}
