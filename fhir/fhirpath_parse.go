package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

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

// FHIRPath (http://hl7.org/fhirpath/N1) parser: expressions are parsed once into an AST and
// cached per profile. The subset covers what FHIR R4 core invariants and the KL/DK profiles
// use; anything outside it fails to parse or evaluate, and the caller reports the invariant
// as not evaluated (a warning), never as passed.

type fpOp int

const (
	opLiteral fpOp = iota
	opEmpty        // {}
	opIdent        // member access on the focus (or type name in is/as/ofType)
	opVar          // %resource, %ucum …
	opThis         // $this
	opIndex        // $index
	opTotal        // $total
	opInvoke       // left.member or left.fn(args): args[0] is the left side
	opFunc         // fn(args) applied to the focus; for invocation, args[0] is the focus expr
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
	typ   string    // type specifier for is/as/ofType
	where int       // offset in the expression, for messages
}

type fpToken struct {
	kind string // "id", "str", "num", "date", "op", "var", "eof", "qty"
	text string
	pos  int
}

type fpLexer struct {
	src  string
	pos  int
	toks []fpToken
}

func lexFHIRPath(src string) ([]fpToken, error) {
	l := &fpLexer{src: src}
	for {
		l.skipSpace()
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, fpToken{kind: "eof", pos: l.pos})
			return l.toks, nil
		}
		start := l.pos
		c := l.src[l.pos]
		switch {
		case c == '\'':
			s, err := l.quoted('\'')
			if err != nil {
				return nil, err
			}
			l.toks = append(l.toks, fpToken{kind: "str", text: s, pos: start})
		case c == '`':
			s, err := l.quoted('`')
			if err != nil {
				return nil, err
			}
			l.toks = append(l.toks, fpToken{kind: "id", text: s, pos: start})
		case c >= '0' && c <= '9':
			for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
				l.pos++
			}
			if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' {
				l.pos++
				for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
					l.pos++
				}
			}
			l.toks = append(l.toks, fpToken{kind: "num", text: l.src[start:l.pos], pos: start})
		case c == '@':
			l.pos++
			for l.pos < len(l.src) && strings.IndexByte("0123456789-:T.+Z", l.src[l.pos]) >= 0 {
				l.pos++
			}
			l.toks = append(l.toks, fpToken{kind: "date", text: l.src[start+1 : l.pos], pos: start})
		case c == '%' || c == '$' || isIdentStart(c):
			l.pos++
			if (c == '%') && l.pos < len(l.src) && (l.src[l.pos] == '\'' || l.src[l.pos] == '`') {
				s, err := l.quoted(l.src[l.pos])
				if err != nil {
					return nil, err
				}
				l.toks = append(l.toks, fpToken{kind: "var", text: s, pos: start})
				continue
			}
			for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || (l.src[l.pos] >= '0' && l.src[l.pos] <= '9')) {
				l.pos++
			}
			kind := "id"
			text := l.src[start:l.pos]
			if c == '%' {
				kind, text = "var", text[1:]
			}
			l.toks = append(l.toks, fpToken{kind: kind, text: text, pos: start})
		default:
			for _, op := range []string{"<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".", ",", "=", "~", "<", ">", "+", "-", "*", "/", "|", "&"} {
				if strings.HasPrefix(l.src[l.pos:], op) {
					l.pos += len(op)
					l.toks = append(l.toks, fpToken{kind: "op", text: op, pos: start})
					goto next
				}
			}
			return nil, fmt.Errorf("unexpected character %q at %d", c, l.pos)
		next:
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (l *fpLexer) skipSpace() {
	for l.pos < len(l.src) {
		switch {
		case strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0:
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end + 4
			}
		default:
			return
		}
	}
}

func (l *fpLexer) quoted(q byte) (string, error) {
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == q {
			l.pos++
			return b.String(), nil
		}
		if c == '\\' && l.pos+1 < len(l.src) {
			l.pos++
			switch e := l.src[l.pos]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if l.pos+4 < len(l.src) {
					if r, err := strconv.ParseUint(l.src[l.pos+1:l.pos+5], 16, 32); err == nil {
						b.WriteRune(rune(r))
						l.pos += 4
						break
					}
				}
				return "", fmt.Errorf("bad \\u escape at %d", l.pos)
			default:
				b.WriteByte(e)
			}
			l.pos++
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", fmt.Errorf("unterminated %c string", q)
}

type fpParser struct {
	toks []fpToken
	i    int
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
func (p *fpParser) next() fpToken { t := p.toks[p.i]; p.i++; return t }

// Binary operator precedence, lowest first.
var fpPrec = map[string]int{
	"implies": 1, "or": 2, "xor": 2, "and": 3, "in": 4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5, "<": 6, ">": 6, "<=": 6, ">=": 6,
	"|": 7, "is": 8, "as": 8, "+": 9, "-": 9, "&": 9, "*": 10, "/": 10, "div": 10, "mod": 10,
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

func (p *fpParser) expr(minPrec int) (*fpNode, error) {
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

func (p *fpParser) typeSpec() (string, error) {
	t := p.next()
	if t.kind != "id" {
		return "", fmt.Errorf("expected a type name at %d", t.pos)
	}
	name := t.text
	for p.peek().kind == "op" && p.peek().text == "." && p.toks[p.i+1].kind == "id" {
		p.next()
		name += "." + p.next().text
	}
	return strings.TrimPrefix(strings.TrimPrefix(name, "FHIR."), "System."), nil
}

func (p *fpParser) unary() (*fpNode, error) {
	if t := p.peek(); t.kind == "op" && (t.text == "-" || t.text == "+") {
		p.next()
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
			if c := p.next(); c.text != "]" {
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
	if t.kind != "id" {
		return nil, fmt.Errorf("expected a name at %d, found %q", t.pos, t.text)
	}
	if nt := p.peek(); nt.kind == "op" && nt.text == "(" {
		p.next()
		f := &fpNode{op: opFunc, name: t.text, where: t.pos}
		if c := p.peek(); c.kind == "op" && c.text == ")" {
			p.next()
			return f, nil
		}
		for {
			if f.name == "ofType" || f.name == "is" || f.name == "as" {
				typ, err := p.typeSpec()
				if err != nil {
					return nil, err
				}
				f.typ = typ
			} else {
				a, err := p.expr(0)
				if err != nil {
					return nil, err
				}
				f.args = append(f.args, a)
			}
			c := p.next()
			if c.kind == "op" && c.text == ")" {
				return f, nil
			}
			if c.kind != "op" || c.text != "," {
				return nil, fmt.Errorf("expected , or ) at %d", c.pos)
			}
		}
	}
	return &fpNode{op: opIdent, name: t.text, where: t.pos}, nil
}

func (p *fpParser) term() (*fpNode, error) {
	t := p.peek()
	switch t.kind {
	case "str":
		p.next()
		return &fpNode{op: opLiteral, lit: strItem(t.text), where: t.pos}, nil
	case "num":
		p.next()
		if nt := p.peek(); nt.kind == "str" || (nt.kind == "id" && calendarUnits[nt.text] != "") {
			p.next() // quantity literal: 4 'mg' or 3 days
			unit := nt.text
			if u := calendarUnits[nt.text]; u != "" && nt.kind == "id" {
				unit = u
			}
			f, _ := strconv.ParseFloat(t.text, 64)
			return &fpNode{op: opLiteral, lit: item{k: kQuantity, f: f, s: unit}, where: t.pos}, nil
		}
		if strings.Contains(t.text, ".") {
			f, _ := strconv.ParseFloat(t.text, 64)
			return &fpNode{op: opLiteral, lit: item{k: kDecimal, f: f, s: t.text}, where: t.pos}, nil
		}
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %s", t.text)
		}
		return &fpNode{op: opLiteral, lit: item{k: kInteger, i: i}, where: t.pos}, nil
	case "date":
		p.next()
		s := t.text
		k := kDateTime
		switch {
		case strings.HasPrefix(s, "T"):
			k, s = kTime, s[1:]
		case !strings.Contains(s, "T"):
			k = kDate
		}
		return &fpNode{op: opLiteral, lit: item{k: k, s: s}, where: t.pos}, nil
	case "var":
		p.next()
		return &fpNode{op: opVar, name: t.text, where: t.pos}, nil
	case "op":
		switch t.text {
		case "(":
			p.next()
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.text != ")" {
				return nil, fmt.Errorf("expected ) at %d", c.pos)
			}
			return n, nil
		case "{":
			p.next()
			if c := p.next(); c.text != "}" {
				return nil, fmt.Errorf("expected } at %d", c.pos)
			}
			return &fpNode{op: opEmpty, where: t.pos}, nil
		}
	case "id":
		switch t.text {
		case "true", "false":
			p.next()
			return &fpNode{op: opLiteral, lit: item{k: kBoolean, b: t.text == "true"}, where: t.pos}, nil
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
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

var calendarUnits = map[string]string{
	"year": "a", "years": "a", "month": "mo", "months": "mo", "week": "wk", "weeks": "wk",
	"day": "d", "days": "d", "hour": "h", "hours": "h", "minute": "min", "minutes": "min",
	"second": "s", "seconds": "s", "millisecond": "ms", "milliseconds": "ms",
}
