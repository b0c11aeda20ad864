package fhir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FHIRPath arithmetic, equality, equivalence, ordering and collection identity.

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
		return nil, fmt.Errorf("operator %s needs values, found complex elements", op)
	}
	switch {
	case a.k == kString && b.k == kString && op == "+":
		return []item{strItem(a.s + b.s)}, nil
	case (a.k == kDate || a.k == kDateTime || a.k == kTime) && b.k == kQuantity && (op == "+" || op == "-"):
		t, ok := parseDT(a.k, a.s)
		if !ok {
			return nil, fmt.Errorf("bad date/time %s", a.s)
		}
		sign := 1
		if op == "-" {
			sign = -1
		}
		t, err := addDuration(t, b, sign)
		if err != nil {
			return nil, err
		}
		return []item{dtItem(t)}, nil
	case a.k == kInteger && b.k == kInteger:
		return intArith(op, a.i, b.i)
	case a.k == kQuantity || b.k == kQuantity:
		if isNumber(a) && isNumber(b) && (op == "*" || op == "/" || b.k != kQuantity || a.k == kQuantity && b.k == kQuantity) {
			if (op == "+" || op == "-") && (a.k != kQuantity || b.k != kQuantity) {
				return nil, fmt.Errorf("cannot %s a number and a quantity", opVerb(op))
			}
			return quantityArith(op, a, b)
		}
	}
	af, aok := numVal(a)
	bf, bok := numVal(b)
	if !aok || !bok || a.k == kQuantity || b.k == kQuantity {
		return nil, fmt.Errorf("operator %s is not defined on %s and %s", op, systemTypeName(a), systemTypeName(b))
	}
	res, err := decArith(op, af, bf)
	if len(res) == 1 && res[0].k == kDecimal {
		res[0] = keepScale(op, res[0], decimalScale(itemString(a)), decimalScale(itemString(b)))
	}
	return res, err
}

// keepScale writes the result of +, - and mod with the larger scale of the operands, and
// of * with the sum of their scales (1.0 + 2.00 = 3.00), as decimal arithmetic does.
func keepScale(op string, r item, sa, sb int) item {
	scale := max(sa, sb)
	switch op {
	case "*":
		scale = sa + sb
	case "+", "-", "mod":
	default:
		return r
	}
	if scale > 15 || decimalScale(r.s) > scale {
		return r
	}
	r.s = strconv.FormatFloat(r.f, 'f', scale, 64)
	return r
}

func isNumber(p item) bool { return p.k == kInteger || p.k == kDecimal || p.k == kQuantity }

func intArith(op string, a, b int64) ([]item, error) {
	switch op {
	case "+", "-", "*":
		r, ok := checkedIntOp(op, a, b)
		if !ok {
			return nil, fmt.Errorf("integer overflow in %d %s %d", a, op, b)
		}
		return []item{intItem(r)}, nil
	case "div":
		if b == 0 {
			return nil, nil
		}
		return []item{intItem(a / b)}, nil
	case "mod":
		if b == 0 {
			return nil, nil
		}
		return []item{intItem(a % b)}, nil
	}
	return decArith(op, float64(a), float64(b))
}

// checkedIntOp is +, - or * on integers: (result, no overflow).
func checkedIntOp(op string, a, b int64) (int64, bool) {
	switch op {
	case "+":
		r := a + b
		return r, (a >= 0) != (b >= 0) || (r >= 0) == (a >= 0)
	case "-":
		r := a - b
		return r, (a >= 0) == (b >= 0) || (r >= 0) == (a >= 0)
	}
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	return r, r/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

func decArith(op string, a, b float64) ([]item, error) {
	switch op {
	case "+":
		return decResult(a + b)
	case "-":
		return decResult(a - b)
	case "*":
		return decResult(a * b)
	case "/":
		if b == 0 {
			return nil, nil
		}
		return decResult(a / b)
	case "div":
		if b == 0 {
			return nil, nil
		}
		return []item{intItem(int64(a / b))}, nil
	case "mod":
		if b == 0 {
			return nil, nil
		}
		return decResult(math.Mod(a, b))
	}
	return nil, fmt.Errorf("unknown operator %s", op)
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

// equalItems is FHIRPath = on two items: (equal, known). Dates of different precision are
// unknown; values of different types are not equal.
func equalItems(a, b item) (bool, bool) {
	pa, oka := prim(a)
	pb, okb := prim(b)
	if oka && okb {
		switch {
		case pa.k == kString || pb.k == kString || pa.k == kBoolean || pb.k == kBoolean:
			return pa.k == pb.k && pa.s == pb.s && pa.b == pb.b, true
		case pa.k == kTypeInfo || pb.k == kTypeInfo:
			return pa.k == pb.k && pa.s == pb.s && pa.unit == pb.unit, true
		case pa.k == kQuantity && pb.k == kQuantity:
			c, ok := quantityCompare(pa, pb, false)
			return ok && c == 0, ok || !isCalendarYM(pa.unit) && !isCalendarYM(pb.unit)
		case !comparableKinds(pa.k, pb.k):
			return false, true
		}
		c, ok := compareItems(pa, pb)
		return ok && c == 0, ok
	}
	if a.n == nil || b.n == nil || oka != okb {
		return false, true
	}
	return equalNodes(a.n, b.n, false), true
}

// equivalentItems is ~: strings ignoring case and whitespace, decimals at the precision of
// the less precise, dates false when the precisions differ.
func equivalentItems(a, b item) bool {
	pa, oka := prim(a)
	pb, okb := prim(b)
	if oka && okb {
		switch {
		case pa.k == kString && pb.k == kString:
			return normSpace(pa.s) == normSpace(pb.s)
		case pa.k == kQuantity && pb.k == kQuantity:
			c, ok := quantityCompare(pa, pb, true)
			return ok && c == 0
		case (pa.k == kDecimal || pb.k == kDecimal) && isNumber(pa) && isNumber(pb):
			sc := min(decimalScale(pa.s), decimalScale(pb.s))
			af, _ := numVal(pa)
			bf, _ := numVal(pb)
			return roundTo(af, sc) == roundTo(bf, sc)
		}
		eq, known := equalItems(pa, pb)
		return eq && known
	}
	if a.n == nil || b.n == nil || oka != okb {
		return false
	}
	return equalNodes(a.n, b.n, true)
}

func normSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// equalNodes compares two complex elements child by child (ids ignored).
func equalNodes(a, b *node, equiv bool) bool {
	if a.hasValue != b.hasValue {
		return false
	}
	if a.hasValue {
		if !equiv && a.value != b.value {
			return false
		}
		if equiv && !equivalentItems(item{n: &node{typ: a.typ, value: a.value, hasValue: true}}, item{n: &node{typ: b.typ, value: b.value, hasValue: true}}) {
			return false
		}
	}
	ac, bc := withoutIDs(a.children), withoutIDs(b.children)
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if ac[i].name != bc[i].name || !equalNodes(ac[i], bc[i], equiv) {
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

// compareItems orders two System values of compatible kinds: (order, known).
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
		return compareDateTimes(pa, pb)
	case pa.k == kQuantity && pb.k == kQuantity:
		return quantityCompare(pa, pb, false)
	}
	af, aok := numVal(pa)
	bf, bok := numVal(pb)
	if aok && bok && pa.k != kQuantity && pb.k != kQuantity {
		return compareFloats(af, bf), true
	}
	return 0, false
}

// itemKey identifies an item up to FHIRPath equality, for distinct, union and friends.
func itemKey(it item) string {
	p, ok := prim(it)
	if !ok {
		if it.n != nil {
			return "n" + nodeKey(it.n)
		}
		return "?"
	}
	switch p.k {
	case kInteger:
		return "#" + strconv.FormatInt(p.i, 10)
	case kDecimal:
		return "#" + formatDecimal(roundSig(p.f))
	case kBoolean:
		return "b" + strconv.FormatBool(p.b)
	case kQuantity:
		if f, d, ok := ucumUnit(p.unit); ok && !isCalendarYM(p.unit) {
			return fmt.Sprintf("q%s%v", formatDecimal(roundSig(p.f*f)), d)
		}
		return "q" + formatDecimal(p.f) + " " + p.unit
	case kDate, kDateTime, kTime:
		if t, ok := parseDT(p.k, p.s); ok {
			return fmt.Sprintf("t%d", p.k) + t.utc().String()
		}
	case kTypeInfo:
		return "i" + p.s + "." + p.unit
	}
	return "s" + p.s
}

// nodeKey is a canonical text of a complex element (ids ignored).
func nodeKey(n *node) string {
	var b strings.Builder
	var walk func(n *node)
	walk = func(n *node) {
		b.WriteString(n.value)
		b.WriteByte('{')
		for _, c := range n.children {
			if c.name != "id" {
				b.WriteString(c.name)
				b.WriteByte(':')
				walk(c)
				b.WriteByte(',')
			}
		}
		b.WriteByte('}')
	}
	walk(n)
	return b.String()
}

// union merges two collections without duplicates, in order.
func union(a, b []item) []item {
	out := make([]item, 0, len(a)+len(b))
	seen := map[string]bool{}
	for _, side := range [][]item{a, b} {
		for _, it := range side {
			k := itemKey(it)
			if !seen[k] {
				seen[k] = true
				out = append(out, it)
			}
		}
	}
	return out
}

func keySet(in []item) map[string]bool {
	m := make(map[string]bool, len(in))
	for _, it := range in {
		m[itemKey(it)] = true
	}
	return m
}
