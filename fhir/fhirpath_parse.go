package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// FHIRPath (http://hl7.org/fhirpath/N1) parser: expressions are parsed once into an AST and
// cached process wide. Function names and their number of arguments are checked here, so an
// expression naming a function the evaluator does not know fails to parse rather than at run
// time.
//
// The FHIRPath files:
//
//	fhirpath_lex.go, fhirpath_parse.go   tokens, AST, the table of functions (funcdefs)
//	fhirpath_eval.go, fhirpath_ops.go    evaluation, operators, equality, equivalence
//	fhirpath_types.go                    is, as, ofType, type(), strict name checks
//	fhirpath_time.go, fhirpath_quantity.go   dates/times by precision, UCUM quantities
//	fhirpath_funcs*.go, fhirpath_convert.go, fhirpath_elementdef.go   the functions
//	fhirpath_api.go                      EvaluateFHIRPath, results as JSON
//	fhirpath_context.go                  Resources: what resolve() reaches beyond the resource
//	xml.go                               FHIR XML read into the JSON tree (inputs in XML)

// Parsed expressions are immutable and shared process wide.
var fpCache sync.Map // expression → fpCached

type fpCached struct {
	n   *fpNode
	err error
}

// parseCachedFHIRPath parses expr once.
func parseCachedFHIRPath(expr string) (*fpNode, error) {
	if c, ok := fpCache.Load(expr); ok {
		return c.(fpCached).n, c.(fpCached).err
	}
	n, err := parseFHIRPath(expr)
	fpCache.Store(expr, fpCached{n, err})
	return n, err
}

// errUnknownFunction marks an expression naming a function FHIRPath (N1 and the FHIR R4
// additions) does not define or the evaluator does not implement.
var errUnknownFunction = errors.New("unknown FHIRPath function")

// fpMaxDepth bounds the nesting of expressions (parentheses, arguments, operators), so a
// hostile expression is refused with an error rather than a stack overflow.
const fpMaxDepth = 200

// fpMaxEvalDepth bounds evaluation depth: the tree of a long chain (a | b | … or
// a.b.c…) is as deep as the chain is long, so this is larger than fpMaxDepth.
const fpMaxEvalDepth = 20000

type fpOp int

const (
	opLiteral fpOp = iota
	opEmpty        // {}
	opIdent        // member access on the focus (or type name in is/as/ofType)
	opVar          // %resource, %ucum …
	opThis         // $this
	opIndex        // $index
	opTotal        // $total
	opFunc         // fn(args) applied to the focus, or to left when set
	opIndexer      // a[b]
	opUnary        // -x / +x
	opBinary
)

type fpNode struct {
	op    fpOp
	name  string    // identifier, function or operator
	lit   item      // literal value
	args  []*fpNode // operands / arguments
	left  *fpNode   // for invocation: the expression the member/function applies to
	typ   string    // type specifier for is/as/ofType, with its namespace when written
	where int       // offset in the expression, for messages
}

type fpParser struct {
	toks  []fpToken
	i     int
	depth int
}

// parseFHIRPath compiles an expression.
func parseFHIRPath(src string) (*fpNode, error) {
	toks, err := lexFHIRPath(src)
	if err != nil {
		return nil, err
	}
	p := &fpParser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return n, nil
}

func (p *fpParser) peek() fpToken { return p.toks[p.i] }
func (p *fpParser) next() fpToken {
	t := p.toks[p.i]
	if t.kind != "eof" {
		p.i++
	}
	return t
}

// Binary operator precedence, lowest first. As in the HL7 Java engine (and the official
// tests: `1 > 2 is Boolean`, `1 | 1 is Integer`), is/as bind looser than comparisons.
var fpPrec = map[string]int{
	"implies": 1, "or": 2, "xor": 2, "and": 3, "in": 4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5, "is": 6, "as": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
	"|": 8, "+": 9, "-": 9, "&": 9, "*": 10, "/": 10, "div": 10, "mod": 10,
}

func (p *fpParser) binaryOp() (string, int) {
	t := p.peek()
	if t.kind == "op" || t.kind == "id" {
		if pr, ok := fpPrec[t.text]; ok {
			return t.text, pr
		}
	}
	return "", 0
}

func (p *fpParser) enter() error {
	if p.depth++; p.depth > fpMaxDepth {
		return fmt.Errorf("expression nests more than %d deep", fpMaxDepth)
	}
	return nil
}

func (p *fpParser) expr(minPrec int) (*fpNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, pr := p.binaryOp()
		if pr == 0 || pr <= minPrec {
			return left, nil
		}
		t := p.next()
		if op == "is" || op == "as" {
			typ, err := p.typeSpec()
			if err != nil {
				return nil, err
			}
			left = &fpNode{op: opBinary, name: op, args: []*fpNode{left}, typ: typ, where: t.pos}
			continue
		}
		right, err := p.expr(pr)
		if err != nil {
			return nil, err
		}
		left = &fpNode{op: opBinary, name: op, args: []*fpNode{left, right}, where: t.pos}
	}
}

// typeSpec reads a type name, possibly qualified: Quantity, FHIR.string, System.`Integer`.
func (p *fpParser) typeSpec() (string, error) {
	t := p.next()
	if t.kind != "id" {
		return "", fmt.Errorf("expected a type name at %d", t.pos)
	}
	name := t.text
	if p.peek().kind == "op" && p.peek().text == "." && p.toks[p.i+1].kind == "id" {
		p.next()
		name += "." + p.next().text
	}
	return name, nil
}

func (p *fpParser) unary() (*fpNode, error) {
	if t := p.peek(); t.kind == "op" && (t.text == "-" || t.text == "+") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &fpNode{op: opUnary, name: t.text, args: []*fpNode{x}, where: t.pos}, nil
	}
	return p.postfix()
}

func (p *fpParser) postfix() (*fpNode, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == "op" && t.text == ".":
			p.next()
			m, err := p.memberOrCall()
			if err != nil {
				return nil, err
			}
			m.left = n
			n = m
		case t.kind == "op" && t.text == "[":
			p.next()
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.text != "]" || c.kind != "op" {
				return nil, fmt.Errorf("expected ] at %d", c.pos)
			}
			n = &fpNode{op: opIndexer, args: []*fpNode{n, idx}, where: t.pos}
		default:
			return n, nil
		}
	}
}

// memberOrCall parses `name` or `name(args)` after a dot or at the start of a path.
func (p *fpParser) memberOrCall() (*fpNode, error) {
	t := p.next()
	if t.kind != "id" || strings.HasPrefix(t.text, "$") {
		return nil, fmt.Errorf("expected a name at %d, found %q", t.pos, t.text)
	}
	if nt := p.peek(); !(nt.kind == "op" && nt.text == "(") {
		return &fpNode{op: opIdent, name: t.text, where: t.pos}, nil
	}
	p.next()
	f := &fpNode{op: opFunc, name: t.text, where: t.pos}
	if c := p.peek(); c.kind == "op" && c.text == ")" {
		p.next()
		return f, checkCall(f)
	}
	for {
		if err := p.argument(f); err != nil {
			return nil, err
		}
		c := p.next()
		if c.kind == "op" && c.text == ")" {
			return f, checkCall(f)
		}
		if c.kind != "op" || c.text != "," {
			return nil, fmt.Errorf("expected , or ) at %d", c.pos)
		}
	}
}

// argument parses one argument of f; is, as and ofType take a type specifier.
func (p *fpParser) argument(f *fpNode) error {
	if (f.name == "ofType" || f.name == "is" || f.name == "as") && f.typ == "" && len(f.args) == 0 {
		typ, err := p.typeSpec()
		if err != nil {
			return err
		}
		f.typ = typ
		return nil
	}
	a, err := p.expr(0)
	if err != nil {
		return err
	}
	f.args = append(f.args, a)
	return nil
}

// checkCall refuses unknown functions and wrong numbers of arguments.
func checkCall(f *fpNode) error {
	ar, ok := fpFunctions[f.name]
	if !ok {
		return fmt.Errorf("%w %s() at %d", errUnknownFunction, f.name, f.where)
	}
	n := len(f.args)
	if f.typ != "" {
		n++
	}
	if n < ar.min || (ar.max >= 0 && n > ar.max) {
		want := strconv.Itoa(ar.min)
		switch {
		case ar.max < 0:
			want += " or more"
		case ar.max != ar.min:
			want += " to " + strconv.Itoa(ar.max)
		}
		return fmt.Errorf("%s() takes %s argument(s), found %d (at %d)", f.name, want, n, f.where)
	}
	return nil
}

func (p *fpParser) term() (*fpNode, error) {
	t := p.peek()
	switch t.kind {
	case "str":
		p.next()
		return &fpNode{op: opLiteral, lit: strItem(t.text), where: t.pos}, nil
	case "num":
		p.next()
		return p.number(t)
	case "date":
		p.next()
		k, s := kDate, t.text
		if i := strings.IndexByte(s, 'T'); i >= 0 {
			k = kDateTime
			if i == len(s)-1 {
				s = s[:i] // @2015T: a DateTime of year precision
			}
		}
		if _, ok := parseDT(k, s); !ok {
			return nil, fmt.Errorf("bad date/time literal @%s at %d", t.text, t.pos)
		}
		return &fpNode{op: opLiteral, lit: item{k: k, s: s}, where: t.pos}, nil
	case "time":
		p.next()
		if strings.ContainsAny(t.text, "Z+-") {
			return nil, fmt.Errorf("a time literal cannot have a time zone (@T%s at %d)", t.text, t.pos)
		}
		if _, ok := parseDT(kTime, t.text); !ok {
			return nil, fmt.Errorf("bad time literal @T%s at %d", t.text, t.pos)
		}
		return &fpNode{op: opLiteral, lit: item{k: kTime, s: t.text}, where: t.pos}, nil
	case "var":
		p.next()
		return &fpNode{op: opVar, name: t.text, where: t.pos}, nil
	case "op":
		return p.bracketed(t)
	case "id":
		switch t.text {
		case "true", "false":
			p.next()
			return &fpNode{op: opLiteral, lit: boolItem(t.text == "true"), where: t.pos}, nil
		case "$this":
			p.next()
			return &fpNode{op: opThis, where: t.pos}, nil
		case "$index":
			p.next()
			return &fpNode{op: opIndex, where: t.pos}, nil
		case "$total":
			p.next()
			return &fpNode{op: opTotal, where: t.pos}, nil
		}
		return p.memberOrCall()
	}
	if t.kind == "eof" {
		return nil, fmt.Errorf("unexpected end of expression at %d", t.pos)
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// bracketed parses ( expr ) and {}.
func (p *fpParser) bracketed(t fpToken) (*fpNode, error) {
	switch t.text {
	case "(":
		p.next()
		n, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.text != ")" || c.kind != "op" {
			return nil, fmt.Errorf("expected ) at %d", c.pos)
		}
		return n, nil
	case "{":
		p.next()
		if c := p.next(); c.text != "}" || c.kind != "op" {
			return nil, fmt.Errorf("expected } at %d", c.pos)
		}
		return &fpNode{op: opEmpty, where: t.pos}, nil
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// number parses an integer, a decimal or a quantity (4 'mg', 3 days).
func (p *fpParser) number(t fpToken) (*fpNode, error) {
	if nt := p.peek(); nt.kind == "str" || (nt.kind == "id" && calendarUnits[nt.text] != "") {
		p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %s", t.text)
		}
		return &fpNode{op: opLiteral, lit: item{k: kQuantity, f: f, s: t.text, unit: nt.text}, where: t.pos}, nil
	}
	if strings.Contains(t.text, ".") {
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %s", t.text)
		}
		return &fpNode{op: opLiteral, lit: item{k: kDecimal, f: f, s: t.text}, where: t.pos}, nil
	}
	i, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad number %s", t.text)
	}
	return &fpNode{op: opLiteral, lit: intItem(i), where: t.pos}, nil
}

// calendarUnits maps the calendar duration keywords to their UCUM counterparts.
var calendarUnits = map[string]string{
	"year": "a", "years": "a", "month": "mo", "months": "mo", "week": "wk", "weeks": "wk",
	"day": "d", "days": "d", "hour": "h", "hours": "h", "minute": "min", "minutes": "min",
	"second": "s", "seconds": "s", "millisecond": "ms", "milliseconds": "ms",
}
