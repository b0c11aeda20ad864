package fhir

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FHIRPath evaluation over the node tree. A value in a collection is an item: either an
// element of the resource (n != nil) or a System value (string, integer, decimal, boolean,
// date, dateTime, time, quantity).

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
)

type item struct {
	n *node
	k valKind
	s string // string, date/time text, quantity unit, decimal literal
	i int64
	f float64
	b bool
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

// errUnsupported marks what the evaluator does not implement: the invariant is then
// reported as not evaluated.
var errUnsupported = errors.New("not supported")

// prim returns the System value of an item (for nodes: of their primitive value).
func prim(it item) (item, bool) {
	if it.n == nil {
		return it, true
	}
	n := it.n
	if !n.hasValue {
		if n.typ == "Quantity" || n.typ == "Age" || n.typ == "Duration" || n.typ == "Distance" || n.typ == "Count" || n.typ == "SimpleQuantity" || n.typ == "MoneyQuantity" {
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
			return item{k: kQuantity, f: f, s: unit}, true
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
		if !strings.Contains(n.value, "T") {
			return item{k: kDate, s: n.value}, true
		}
		return item{k: kDateTime, s: n.value}, true
	case "time":
		return item{k: kTime, s: n.value}, true
	}
	return strItem(n.value), true
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
}

func (e *fpEnv) eval(x *fpNode, focus []item) ([]item, error) {
	if e.depth++; e.depth > 200 {
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
		switch x.name {
		case "resource":
			return []item{{n: e.resource}}, nil
		case "rootResource":
			return []item{{n: e.root}}, nil
		case "context":
			return []item{{n: e.context}}, nil
		case "ucum":
			return []item{strItem("http://unitsofmeasure.org")}, nil
		case "sct":
			return []item{strItem("http://snomed.info/sct")}, nil
		case "loinc":
			return []item{strItem("http://loinc.org")}, nil
		}
		if strings.HasPrefix(x.name, "vs-") {
			return []item{strItem("http://hl7.org/fhir/ValueSet/" + x.name[3:])}, nil
		}
		if strings.HasPrefix(x.name, "ext-") {
			return []item{strItem("http://hl7.org/fhir/StructureDefinition/" + x.name[4:])}, nil
		}
		return nil, fmt.Errorf("unknown variable %%%s: %w", x.name, errUnsupported)
	case opIdent:
		in := focus
		if x.left != nil {
			var err error
			if in, err = e.eval(x.left, focus); err != nil {
				return nil, err
			}
		} else if len(focus) == 1 && focus[0].n != nil && focus[0].n.resource && focus[0].n.typ == x.name {
			return focus, nil // a path may start with the resource type: "Patient.name"
		}
		return member(in, x.name), nil
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
		in, err := e.eval(x.args[0], focus)
		if err != nil {
			return nil, err
		}
		idx, err := e.eval(x.args[1], focus)
		if err != nil {
			return nil, err
		}
		if len(idx) != 1 || idx[0].k != kInteger {
			return nil, errors.New("indexer needs one integer")
		}
		if i := int(idx[0].i); i >= 0 && i < len(in) {
			return in[i : i+1], nil
		}
		return nil, nil
	case opUnary:
		v, err := e.eval(x.args[0], focus)
		if err != nil || x.name == "+" || len(v) == 0 {
			return v, err
		}
		p, ok := prim(v[0])
		switch {
		case ok && p.k == kInteger:
			return []item{intItem(-p.i)}, nil
		case ok && (p.k == kDecimal || p.k == kQuantity):
			p.f = -p.f
			return []item{p}, nil
		}
		return nil, errors.New("unary minus needs a number")
	case opBinary:
		return e.binary(x, focus)
	}
	return nil, fmt.Errorf("unknown expression node: %w", errUnsupported)
}

// member navigates to children called name; resources are also reached by their type.
func member(in []item, name string) []item {
	var out []item
	for _, it := range in {
		if it.n == nil {
			continue
		}
		if name == "value" && it.n.hasValue && isPrimitive(it.n.typ) {
			// As in the HL7 engine, value on a primitive is the primitive itself
			// (dk-core's cpr invariant on Identifier.value reads value.matches(…)).
			out = append(out, it)
			continue
		}
		for _, c := range it.n.children {
			if c.name == name {
				out = append(out, item{n: c})
			}
		}
	}
	return out
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
	if !ok {
		return true, true, nil // a single non-boolean item counts as true
	}
	if p.k == kBoolean {
		return p.b, true, nil
	}
	return true, true, nil
}

func (e *fpEnv) binary(x *fpNode, focus []item) ([]item, error) {
	switch x.name {
	case "and", "or", "xor", "implies":
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
	case "is", "as":
		l, err := e.eval(x.args[0], focus)
		if err != nil {
			return nil, err
		}
		if x.name == "is" {
			if len(l) != 1 {
				return nil, nil
			}
			return boolColl(isType(l[0], x.typ)), nil
		}
		return ofType(l, x.typ), nil
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
	case "=", "!=", "~", "!~":
		if len(l) == 0 || len(r) == 0 {
			if x.name == "~" || x.name == "!~" {
				return boolColl((len(l) == len(r)) == (x.name == "~")), nil
			}
			return nil, nil
		}
		eq := len(l) == len(r)
		for i := 0; eq && i < len(l); i++ {
			eq = equalItems(l[i], r[i], x.name[len(x.name)-1] == '~')
		}
		if x.name[0] == '!' {
			eq = !eq
		}
		return boolColl(eq), nil
	case "in", "contains":
		if x.name == "contains" {
			l, r = r, l
		}
		if len(l) == 0 {
			return nil, nil
		}
		if len(l) > 1 {
			return nil, errors.New("left operand of in has more than one item")
		}
		for _, it := range r {
			if equalItems(l[0], it, false) {
				return boolColl(true), nil
			}
		}
		return boolColl(false), nil
	case "<", ">", "<=", ">=":
		if len(l) == 0 || len(r) == 0 {
			return nil, nil
		}
		if len(l) > 1 || len(r) > 1 {
			return nil, errors.New("comparison of collections with more than one item")
		}
		c, ok := compareItems(l[0], r[0])
		if !ok {
			return nil, nil
		}
		switch x.name {
		case "<":
			return boolColl(c < 0), nil
		case ">":
			return boolColl(c > 0), nil
		case "<=":
			return boolColl(c <= 0), nil
		}
		return boolColl(c >= 0), nil
	case "&":
		var ls, rs string
		if len(l) == 1 {
			p, _ := prim(l[0])
			ls = p.s
		}
		if len(r) == 1 {
			p, _ := prim(r[0])
			rs = p.s
		}
		return []item{strItem(ls + rs)}, nil
	case "+", "-", "*", "/", "div", "mod":
		return arith(x.name, l, r)
	}
	return nil, fmt.Errorf("operator %s: %w", x.name, errUnsupported)
}

func arith(op string, l, r []item) ([]item, error) {
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, fmt.Errorf("operator %s on collections with more than one item", op)
	}
	a, ok1 := prim(l[0])
	b, ok2 := prim(r[0])
	if !ok1 || !ok2 {
		return nil, nil
	}
	if op == "+" && a.k == kString && b.k == kString {
		return []item{strItem(a.s + b.s)}, nil
	}
	if a.k == kInteger && b.k == kInteger {
		switch op {
		case "+":
			return []item{intItem(a.i + b.i)}, nil
		case "-":
			return []item{intItem(a.i - b.i)}, nil
		case "*":
			return []item{intItem(a.i * b.i)}, nil
		case "div":
			if b.i == 0 {
				return nil, nil
			}
			return []item{intItem(a.i / b.i)}, nil
		case "mod":
			if b.i == 0 {
				return nil, nil
			}
			return []item{intItem(a.i % b.i)}, nil
		}
	}
	af, aok := numVal(a)
	bf, bok := numVal(b)
	if !aok || !bok {
		return nil, fmt.Errorf("operator %s needs numbers: %w", op, errUnsupported)
	}
	var v float64
	switch op {
	case "+":
		v = af + bf
	case "-":
		v = af - bf
	case "*":
		v = af * bf
	case "/":
		if bf == 0 {
			return nil, nil
		}
		v = af / bf
	case "div":
		if bf == 0 {
			return nil, nil
		}
		return []item{intItem(int64(af / bf))}, nil
	case "mod":
		if bf == 0 {
			return nil, nil
		}
		v = math.Mod(af, bf)
	}
	return []item{{k: kDecimal, f: v}}, nil
}

func numVal(p item) (float64, bool) {
	switch p.k {
	case kInteger:
		return float64(p.i), true
	case kDecimal, kQuantity:
		return p.f, true
	}
	return 0, false
}

// equalItems is FHIRPath = (or ~ when equiv: case- and whitespace-insensitive strings).
func equalItems(a, b item, equiv bool) bool {
	pa, oka := prim(a)
	pb, okb := prim(b)
	if oka && okb {
		if pa.k == kString || pb.k == kString {
			if pa.k != pb.k {
				return false
			}
			if equiv {
				return strings.EqualFold(strings.Join(strings.Fields(pa.s), " "), strings.Join(strings.Fields(pb.s), " "))
			}
			return pa.s == pb.s
		}
		if c, ok := compareItems(pa, pb); ok {
			return c == 0
		}
		return false
	}
	if a.n == nil || b.n == nil || oka != okb {
		return false
	}
	return equalNodes(a.n, b.n)
}

// equalNodes compares two complex elements child by child (ids ignored).
func equalNodes(a, b *node) bool {
	if a.hasValue != b.hasValue || a.value != b.value {
		return false
	}
	ac, bc := withoutIDs(a.children), withoutIDs(b.children)
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if ac[i].name != bc[i].name || !equalNodes(ac[i], bc[i]) {
			return false
		}
	}
	return true
}

func withoutIDs(ns []*node) []*node {
	var out []*node
	for _, n := range ns {
		if n.name != "id" {
			out = append(out, n)
		}
	}
	return out
}

// compareItems orders two System values of compatible kinds.
func compareItems(a, b item) (int, bool) {
	pa, oka := prim(a)
	pb, okb := prim(b)
	if !oka || !okb {
		return 0, false
	}
	switch {
	case pa.k == kBoolean && pb.k == kBoolean:
		if pa.b == pb.b {
			return 0, true
		}
		return 1, true
	case pa.k == kString && pb.k == kString:
		return strings.Compare(pa.s, pb.s), true
	case (pa.k == kDate || pa.k == kDateTime) && (pb.k == kDate || pb.k == kDateTime), pa.k == kTime && pb.k == kTime:
		return compareDateTimes(pa.s, pb.s)
	}
	af, aok := numVal(pa)
	bf, bok := numVal(pb)
	if aok && bok && (pa.k != kQuantity) == (pb.k != kQuantity) {
		switch {
		case af < bf:
			return -1, true
		case af > bf:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// compareDateTimes compares partial dates/times; values of different precision compare only
// on their common precision, and are unknown (false) when equal there.
func compareDateTimes(a, b string) (int, bool) {
	ta, oka := parseFHIRTime(a)
	tb, okb := parseFHIRTime(b)
	if !oka || !okb {
		return 0, false
	}
	if ta.prec != tb.prec {
		p := min(ta.prec, tb.prec)
		ca, cb := ta.truncate(p), tb.truncate(p)
		if ca == cb {
			return 0, false
		}
		return strings.Compare(ca, cb), true
	}
	return strings.Compare(ta.norm, tb.norm), true
}

func union(a, b []item) []item {
	out := make([]item, 0, len(a)+len(b))
	for _, it := range append(append([]item(nil), a...), b...) {
		dup := false
		for _, o := range out {
			if sameItem(o, it) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, it)
		}
	}
	return out
}

func sameItem(a, b item) bool {
	if a.n != nil && b.n != nil {
		return a.n == b.n || equalNodes(a.n, b.n) && a.n.typ == b.n.typ
	}
	return equalItems(a, b, false)
}

// isType tells whether an item is of FHIR or System type t.
func isType(it item, t string) bool {
	if it.n != nil {
		if it.n.typ == t {
			return true
		}
		switch t {
		case "Resource", "DomainResource":
			return it.n.resource
		case "Element":
			return !it.n.resource
		}
		if sub := primitiveSubtypes[it.n.typ]; sub == t {
			return true
		}
		return false
	}
	switch it.k {
	case kString:
		return t == "String" || t == "string"
	case kInteger:
		return t == "Integer" || t == "integer"
	case kDecimal:
		return t == "Decimal" || t == "decimal"
	case kBoolean:
		return t == "Boolean" || t == "boolean"
	case kDate:
		return t == "Date" || t == "date"
	case kDateTime:
		return t == "DateTime" || t == "dateTime"
	case kTime:
		return t == "Time" || t == "time"
	case kQuantity:
		return t == "Quantity"
	}
	return false
}

// primitiveSubtypes: FHIR primitive specialisations that count as their parent for is/as.
var primitiveSubtypes = map[string]string{
	"code": "string", "id": "string", "markdown": "string", "uuid": "uri", "url": "uri",
	"canonical": "uri", "oid": "uri", "positiveInt": "integer", "unsignedInt": "integer",
}

func ofType(in []item, t string) []item {
	var out []item
	for _, it := range in {
		if isType(it, t) {
			out = append(out, it)
		}
	}
	return out
}
