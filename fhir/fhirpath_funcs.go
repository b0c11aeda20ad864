package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FHIRPath functions. Each takes the input collection (in) and the focus the arguments are
// evaluated against; iterating functions (where, select, all, exists(criteria), repeat,
// aggregate) evaluate their argument once per item with $this set.

type fpFunc func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error)

// fpImpl holds the implementations by name (filled in init, as they call back into eval).
var fpImpl = map[string]fpFunc{}

func init() {
	for _, m := range []map[string]fpFunc{fpCoreFuncs(), fpStringFuncs(), fpMathFuncs(), fpConvertFuncs(), fpFHIRFuncs(), fpExtraFuncs()} {
		for k, f := range m {
			fpImpl[k] = f
		}
	}
}

func (e *fpEnv) call(x *fpNode, in, focus []item) ([]item, error) {
	// Arguments of non-iterating functions are evaluated against the expression's focus
	// ($this of the enclosing iteration), not against the input.
	argString := func(i int) (string, bool, error) { return e.argString(x, focus, i) }
	single := func() (item, bool, error) { return single(x, in) }

	switch x.name {
	case "memberOf":
		u, ok, err := argString(0)
		if err != nil || !ok {
			return nil, err
		}
		it, ok, err := single()
		if !ok || err != nil {
			return nil, err
		}
		in, known, err := e.c.memberOf(it, u, e.pkg)
		if err != nil {
			return nil, err
		}
		if !known {
			return nil, fmt.Errorf("memberOf('%s'): %w", u, errNotChecked)
		}
		return boolColl(in), nil
	}
	if f := fpImpl[x.name]; f != nil {
		return f(e, x, in, focus)
	}
	return nil, fmt.Errorf("function %s(): %w", x.name, errUnsupported)
}

var errNotChecked = errors.New("the value set or a code system it uses is not held by the validator")

// arg evaluates argument i against the focus.
func (e *fpEnv) arg(x *fpNode, focus []item, i int) ([]item, error) {
	if i >= len(x.args) {
		return nil, nil
	}
	return e.eval(x.args[i], focus)
}

// argString evaluates argument i to a single string: (value, present, error).
func (e *fpEnv) argString(x *fpNode, focus []item, i int) (string, bool, error) {
	v, err := e.arg(x, focus, i)
	if err != nil || len(v) == 0 {
		return "", false, err
	}
	if len(v) > 1 {
		return "", false, fmt.Errorf("%s() argument %d has %d items, expected one", x.name, i+1, len(v))
	}
	p, ok := prim(v[0])
	if !ok {
		return "", false, fmt.Errorf("%s() argument %d is not a string", x.name, i+1)
	}
	if p.k == kInteger {
		return strconv.FormatInt(p.i, 10), true, nil
	}
	return p.s, true, nil
}

// argInt evaluates argument i to a single integer.
func (e *fpEnv) argInt(x *fpNode, focus []item, i int) (int, bool, error) {
	v, err := e.arg(x, focus, i)
	if err != nil || len(v) == 0 {
		return 0, false, err
	}
	p, ok := prim(v[0])
	if len(v) > 1 || !ok || p.k != kInteger {
		return 0, false, fmt.Errorf("%s() needs an integer argument", x.name)
	}
	return int(p.i), true, nil
}

// single is the one item of the input: (item, present, error when there are several).
func single(x *fpNode, in []item) (item, bool, error) {
	if len(in) == 0 {
		return item{}, false, nil
	}
	if len(in) > 1 {
		return item{}, false, fmt.Errorf("%s() can only be used on a single value, found %d", x.name, len(in))
	}
	return in[0], true, nil
}

// filter keeps the items for which cond is true, with $this and $index set.
func (e *fpEnv) filter(cond *fpNode, in []item) ([]item, error) {
	var out []item
	for i, it := range in {
		v, err := e.withThis(cond, it, i)
		if err != nil {
			return nil, err
		}
		if b, known, err := boolOf(v); err != nil {
			return nil, err
		} else if known && b {
			out = append(out, it)
		}
	}
	return out, nil
}

func (e *fpEnv) withThis(x *fpNode, it item, i int) ([]item, error) {
	saveThis, saveIdx := e.this, e.index
	e.this, e.index = []item{it}, i
	v, err := e.eval(x, e.this)
	e.this, e.index = saveThis, saveIdx
	return v, err
}

func fpCoreFuncs() map[string]fpFunc {
	return map[string]fpFunc{
		"empty": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return boolColl(len(in) == 0), nil },
		"count": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			return []item{intItem(int64(len(in)))}, nil
		},
		"exists": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			if len(x.args) == 0 {
				return boolColl(len(in) > 0), nil
			}
			out, err := e.filter(x.args[0], in)
			return boolColl(len(out) > 0), err
		},
		"where":  func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return e.filter(x.args[0], in) },
		"select": (*fpEnv).selectFn, "repeat": (*fpEnv).repeat, "all": (*fpEnv).all,
		"aggregate": (*fpEnv).aggregate, "iif": (*fpEnv).iif,
		"allTrue": boolsFn, "anyTrue": boolsFn, "allFalse": boolsFn, "anyFalse": boolsFn,
		"first": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return firstN(in, 1), nil },
		"last": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			if len(in) == 0 {
				return nil, nil
			}
			return in[len(in)-1:], nil
		},
		"tail": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			if len(in) < 2 {
				return nil, nil
			}
			return in[1:], nil
		},
		"skip": skipTake, "take": skipTake,
		"single": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			if len(in) > 1 {
				return nil, errors.New("single() found more than one item")
			}
			return in, nil
		},
		"distinct": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return union(in, nil), nil },
		"isDistinct": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			return boolColl(len(union(in, nil)) == len(in)), nil
		},
		"union": setFn, "combine": setFn, "intersect": setFn, "exclude": setFn,
		"subsetOf": setFn, "supersetOf": setFn,
		"not": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			b, known, err := boolOf(in)
			if err != nil || !known {
				return nil, err
			}
			return boolColl(!b), nil
		},
		"ofType": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return e.ofType(in, x.typ) },
		"is":     func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return e.typeOp("is", x.typ, in) },
		"as":     func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return e.typeOp("as", x.typ, in) },
		"type":   func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return typeInfoOf(in), nil },
		"children": func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
			var out []item
			for _, it := range in {
				if it.n != nil {
					out = append(out, nodeItems(it.n.children)...)
				}
			}
			return out, nil
		},
		"descendants": descendants,
		"trace":       func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) { return in, nil },
		"now":         nowFn, "today": nowFn, "timeOfDay": nowFn,
		"defineVariable": (*fpEnv).defineVariable,
		"precision":      precisionFn,
	}
}

func firstOf(in []item) item {
	if len(in) == 0 {
		return item{}
	}
	return in[0]
}

func firstN(in []item, n int) []item {
	return in[:min(n, len(in))]
}

func (e *fpEnv) selectFn(x *fpNode, in, focus []item) ([]item, error) {
	var out []item
	for i, it := range in {
		v, err := e.withThis(x.args[0], it, i)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// repeat applies its projection to the input, then to what that gives, until nothing new
// turns up.
func (e *fpEnv) repeat(x *fpNode, in, focus []item) ([]item, error) {
	var out []item
	seen := map[any]bool{}
	queue := in
	for len(queue) > 0 {
		var next []item
		for i, it := range queue {
			v, err := e.withThis(x.args[0], it, i)
			if err != nil {
				return nil, err
			}
			for _, r := range v {
				var k any = itemKey(r)
				if r.n != nil {
					k = r.n
				}
				if !seen[k] {
					seen[k] = true
					next = append(next, r)
				}
			}
		}
		out = append(out, next...)
		queue = next
		if len(out) > fpMaxRepeat {
			return nil, fmt.Errorf("repeat() gave more than %d items", fpMaxRepeat)
		}
	}
	return out, nil
}

// fpMaxRepeat bounds repeat(), whose projection may produce new values forever
// (1.repeat($this + 1)).
const fpMaxRepeat = 10000

func (e *fpEnv) all(x *fpNode, in, focus []item) ([]item, error) {
	for i, it := range in {
		v, err := e.withThis(x.args[0], it, i)
		if err != nil {
			return nil, err
		}
		if b, known, err := boolOf(v); err != nil || !known || !b {
			return boolColl(false), err
		}
	}
	return boolColl(true), nil
}

func (e *fpEnv) aggregate(x *fpNode, in, focus []item) ([]item, error) {
	var total []item
	if len(x.args) > 1 {
		var err error
		if total, err = e.eval(x.args[1], focus); err != nil {
			return nil, err
		}
	}
	saveTotal := e.total
	defer func() { e.total = saveTotal }()
	for i, it := range in {
		e.total = total
		v, err := e.withThis(x.args[0], it, i)
		if err != nil {
			return nil, err
		}
		total = v
	}
	return total, nil
}

// iif evaluates only the branch its criterion selects; the criterion sees the input as $this.
func (e *fpEnv) iif(x *fpNode, in, focus []item) ([]item, error) {
	if len(in) > 1 {
		return nil, errors.New("iif() can only be used on a single value")
	}
	if x.left != nil {
		saveThis := e.this
		e.this, focus = in, in
		defer func() { e.this = saveThis }()
	}
	c, err := e.eval(x.args[0], focus)
	if err != nil {
		return nil, err
	}
	if p, ok := prim(firstOf(c)); e.strict && len(c) == 1 && (!ok || p.k != kBoolean) {
		return nil, errors.New("the criterion of iif() is not a boolean")
	}
	b, known, err := boolOf(c)
	if err != nil {
		return nil, err
	}
	if known && b {
		return e.eval(x.args[1], focus)
	}
	if len(x.args) == 3 {
		return e.eval(x.args[2], focus)
	}
	return nil, nil
}

func boolsFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	want := strings.Contains(x.name, "True")
	all := strings.HasPrefix(x.name, "all")
	for _, it := range in {
		p, ok := prim(it)
		if !ok || p.k != kBoolean {
			return nil, fmt.Errorf("%s() needs booleans", x.name)
		}
		if all && p.b != want {
			return boolColl(false), nil
		}
		if !all && p.b == want {
			return boolColl(true), nil
		}
	}
	return boolColl(all), nil
}

func skipTake(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	n, ok, err := e.argInt(x, focus, 0)
	if err != nil || !ok {
		return nil, err
	}
	n = max(0, min(n, len(in)))
	if x.name == "skip" {
		return in[n:], nil
	}
	return in[:n], nil
}

// setFn is union, combine, intersect, exclude, subsetOf and supersetOf.
func setFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	o, err := e.arg(x, focus, 0)
	if err != nil {
		return nil, err
	}
	switch x.name {
	case "union":
		return union(in, o), nil
	case "combine":
		return append(append([]item(nil), in...), o...), nil
	case "subsetOf":
		return boolColl(containsAll(o, in)), nil
	case "supersetOf":
		return boolColl(containsAll(in, o)), nil
	}
	keys := keySet(o)
	var out []item
	for _, it := range in {
		if keys[itemKey(it)] == (x.name == "intersect") {
			out = append(out, it)
		}
	}
	if x.name == "intersect" {
		out = union(out, nil)
	}
	return out, nil
}

// containsAll tells whether every item of sub is in super.
func containsAll(super, sub []item) bool {
	keys := keySet(super)
	for _, it := range sub {
		if !keys[itemKey(it)] {
			return false
		}
	}
	return true
}

func descendants(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	var out []item
	stack := make([]*node, 0, 16)
	for i := len(in) - 1; i >= 0; i-- {
		if in[i].n != nil {
			stack = append(stack, in[i].n)
		}
	}
	// Breadth first, as the HL7 engine lists them.
	for len(stack) > 0 {
		var next []*node
		for _, n := range stack {
			for _, c := range n.children {
				out = append(out, item{n: c})
				next = append(next, c)
			}
		}
		stack = next
	}
	return out, nil
}

func nowFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	dt, d, t := nowItems(e.clock())
	switch x.name {
	case "now":
		return []item{dt}, nil
	case "today":
		return []item{d}, nil
	}
	return []item{t}, nil
}

// defineVariable names the input (or its projection) as %name for the rest of the
// expression.
func (e *fpEnv) defineVariable(x *fpNode, in, focus []item) ([]item, error) {
	name, ok, err := e.argString(x, focus, 0)
	if err != nil || !ok {
		return nil, fmt.Errorf("defineVariable() needs a name")
	}
	if _, err := e.variable(name); err == nil {
		return nil, fmt.Errorf("variable %%%s is already defined", name)
	}
	val := in
	if len(x.args) > 1 {
		saveThis := e.this
		e.this = in
		val, err = e.eval(x.args[1], in)
		e.this = saveThis
		if err != nil {
			return nil, err
		}
	}
	if e.vars == nil {
		e.vars = map[string][]item{}
	}
	e.vars[name] = val
	return in, nil
}

func precisionFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return nil, err
	}
	p, _ := prim(it)
	switch p.k {
	case kDecimal, kInteger, kQuantity:
		return []item{intItem(int64(decimalScale(p.s)))}, nil
	case kDate, kDateTime, kTime:
		t, ok := parseDT(p.k, p.s)
		if !ok {
			return nil, nil
		}
		digits := []int{0, 4, 6, 8, 10, 12, 14, 17}[t.prec]
		if p.k == kTime {
			digits -= 8
		}
		return []item{intItem(int64(digits))}, nil
	}
	return nil, nil
}
