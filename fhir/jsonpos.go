package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses JSON into a tree that remembers where each value was written, so that
// every issue can say "Line N, Col M" the way HAPI FHIR does.
//
// Which position HAPI prints: HAPI's validator (org.hl7.fhir.validation, in the releases the
// Care Gateway runs) reads JSON with the HL7 JsonTrackingParser, whose lexer keeps one token
// of look-ahead and records a value's location as the lexer position at the moment the value
// is stored (columns 1-based, counted in characters; the position is just past the last
// character read). That gives:
//   - the root object: just past its "{" (Line 1, Col 2 for a document starting with "{");
//   - an object inside an array: just past its own "{";
//   - an array: just past its "[";
//   - a primitive: just past the token that follows it ("," or "}" or "]");
//   - an object that is a property value: the parser re-stores the *parent* object each time
//     it meets an object-valued property, so an object ends up located just past the "{" of
//     its last object-valued property; an object with none keeps the position the lexer had
//     after its first property (just past the token after a primitive first value, or just
//     past the "{"/"[" of a complex first value).
// Checked on the Care Gateway seed: the Encounter of entry[6] (whose last object property is
// subject, once period is removed) is reported at "Line 282, Col 22", the column just past
// `        "subject" : {`, and focus[0] of entry[5] at "Line 238, Col 12", just past its "{".

// jsonKind is the JSON type of a node.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonNode is one parsed JSON value.
type jsonNode struct {
	kind  jsonKind
	text  string      // string value, number literal, or "true"/"false"
	props []jsonProp  // object members in document order
	items []*jsonNode // array items
	line  int         // HAPI-style location, see above
	col   int
}

// jsonProp is one object member.
type jsonProp struct {
	name  string
	value *jsonNode
	line  int // where the property name starts (for duplicate-key messages)
	col   int
}

// get returns the member called name, or nil.
func (n *jsonNode) get(name string) *jsonNode {
	if n == nil || n.kind != jsonObject {
		return nil
	}
	for i := range n.props {
		if n.props[i].name == name {
			return n.props[i].value
		}
	}
	return nil
}

// str returns the string value of member name ("" when absent or not a string).
func (n *jsonNode) str(name string) string {
	if v := n.get(name); v != nil && v.kind == jsonString {
		return v.text
	}
	return ""
}

// JSONError is a syntax error with its place in the text.
type JSONError struct {
	Line, Col int
	Msg       string
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// jsonParser is a small recursive-descent parser tracking line and column.
type jsonParser struct {
	src       []byte
	off       int
	line, col int // of src[off], 1-based
	depth     int
}

const maxJSONDepth = 200

// parseJSON parses one JSON document.
func parseJSON(src []byte) (*jsonNode, error) {
	p := &jsonParser{src: src, line: 1, col: 1}
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF { // BOM
		p.off = 3
	}
	p.skipWS()
	if p.off >= len(p.src) {
		return nil, p.errf("the document is empty")
	}
	n, err := p.value(true, false)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.off < len(p.src) {
		return nil, p.errf("unexpected %q after the end of the document", p.src[p.off])
	}
	return n, nil
}

func (p *jsonParser) errf(format string, args ...any) error {
	return &JSONError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

// advance moves over one character (a whole UTF-8 sequence counts as one column).
func (p *jsonParser) advance() {
	c := p.src[p.off]
	if c < utf8.RuneSelf {
		p.off++
	} else {
		_, size := utf8.DecodeRune(p.src[p.off:])
		p.off += size
	}
	if c == '\n' {
		p.line++
		p.col = 1
	} else {
		p.col++
	}
}

func (p *jsonParser) skipWS() {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\r', '\n':
			p.advance()
		default:
			return
		}
	}
}

// afterNextToken returns the position just past the next token (",", "}" or "]"), without
// consuming it: where HAPI's look-ahead lexer stands when it stores a primitive.
func (p *jsonParser) afterNextToken() (int, int) {
	q := *p
	q.skipWS()
	if q.off < len(q.src) {
		q.advance()
	}
	return q.line, q.col
}

// value parses any value. inArray and root only affect the recorded location.
func (p *jsonParser) value(root, inArray bool) (*jsonNode, error) {
	if p.off >= len(p.src) {
		return nil, p.errf("unexpected end of the document")
	}
	switch c := p.src[p.off]; {
	case c == '{':
		return p.object(root, inArray)
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		n := &jsonNode{kind: jsonString, text: s}
		n.line, n.col = p.afterNextToken()
		return n, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, w := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.src[p.off:min(len(p.src), p.off+len(w))]), w) {
				for range w {
					p.advance()
				}
				n := &jsonNode{kind: jsonBool, text: w}
				if w == "null" {
					n.kind = jsonNull
				}
				n.line, n.col = p.afterNextToken()
				return n, nil
			}
		}
		return nil, p.errf("unexpected character %q", c)
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.off
		for p.off < len(p.src) && strings.IndexByte("+-0123456789.eE", p.src[p.off]) >= 0 {
			p.advance()
		}
		lit := string(p.src[start:p.off])
		if _, err := strconv.ParseFloat(lit, 64); err != nil || !validJSONNumber(lit) {
			return nil, p.errf("invalid number %q", lit)
		}
		n := &jsonNode{kind: jsonNumber, text: lit}
		n.line, n.col = p.afterNextToken()
		return n, nil
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

// validJSONNumber rejects what ParseFloat takes but JSON does not (leading zeros, "+1", ".5").
func validJSONNumber(s string) bool {
	i := 0
	if s[0] == '-' {
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return false
	}
	if s[i] == '0' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
		return false
	}
	return true
}

func (p *jsonParser) object(root, inArray bool) (*jsonNode, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.errf("nesting deeper than %d", maxJSONDepth)
	}
	defer func() { p.depth-- }()
	n := &jsonNode{kind: jsonObject}
	p.advance() // {
	openLine, openCol := p.line, p.col
	p.skipWS()
	if p.off < len(p.src) && p.src[p.off] == '}' {
		p.advance()
		n.line, n.col = p.afterNextToken()
		if root || inArray {
			n.line, n.col = openLine, openCol
		}
		return n, nil
	}
	lastObjLine := 0
	var lastObjCol int
	for first := true; ; first = false {
		p.skipWS()
		if p.off >= len(p.src) || p.src[p.off] != '"' {
			return nil, p.errf("expected a property name in quotes")
		}
		pl, pc := p.line, p.col
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.off >= len(p.src) || p.src[p.off] != ':' {
			return nil, p.errf("expected ':' after property name %q", name)
		}
		p.advance()
		p.skipWS()
		if p.off >= len(p.src) {
			return nil, p.errf("unexpected end of the document after %q", name)
		}
		complexStart := p.src[p.off] == '{' || p.src[p.off] == '['
		if first && complexStart { // fallback location: just past the first value's bracket
			n.line, n.col = p.line, p.col+1
		}
		if p.src[p.off] == '{' {
			lastObjLine, lastObjCol = p.line, p.col+1
		}
		v, err := p.value(false, false)
		if err != nil {
			return nil, err
		}
		if first && !complexStart {
			n.line, n.col = v.line, v.col
		}
		for _, q := range n.props {
			if q.name == name {
				return nil, &JSONError{Line: pl, Col: pc, Msg: fmt.Sprintf("duplicated property name %q", name)}
			}
		}
		n.props = append(n.props, jsonProp{name: name, value: v, line: pl, col: pc})
		p.skipWS()
		if p.off >= len(p.src) {
			return nil, p.errf("unexpected end of the document: an object is not closed")
		}
		if p.src[p.off] == ',' {
			p.advance()
			continue
		}
		if p.src[p.off] == '}' {
			p.advance()
			break
		}
		return nil, p.errf("expected ',' or '}' after property %q", name)
	}
	switch {
	case root || inArray:
		n.line, n.col = openLine, openCol
	case lastObjLine > 0:
		n.line, n.col = lastObjLine, lastObjCol
	}
	return n, nil
}

func (p *jsonParser) array() (*jsonNode, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.errf("nesting deeper than %d", maxJSONDepth)
	}
	defer func() { p.depth-- }()
	p.advance() // [
	n := &jsonNode{kind: jsonArray, line: p.line, col: p.col}
	p.skipWS()
	if p.off < len(p.src) && p.src[p.off] == ']' {
		p.advance()
		return n, nil
	}
	for {
		p.skipWS()
		v, err := p.value(false, true)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.skipWS()
		if p.off >= len(p.src) {
			return nil, p.errf("unexpected end of the document: an array is not closed")
		}
		if p.src[p.off] == ',' {
			p.advance()
			continue
		}
		if p.src[p.off] == ']' {
			p.advance()
			return n, nil
		}
		return nil, p.errf("expected ',' or ']' in an array")
	}
}

// str reads a quoted string and decodes its escapes.
func (p *jsonParser) str() (string, error) {
	p.advance() // opening quote
	start := p.off
	simple := true
	for {
		if p.off >= len(p.src) {
			return "", p.errf("unterminated string")
		}
		c := p.src[p.off]
		if c == '"' {
			break
		}
		if c < 0x20 {
			return "", p.errf("control character %q in a string", c)
		}
		if c == '\\' {
			simple = false
			p.advance()
			if p.off >= len(p.src) {
				return "", p.errf("unterminated string")
			}
		}
		p.advance()
	}
	raw := p.src[start:p.off]
	p.advance() // closing quote
	if simple {
		return string(raw), nil
	}
	s, err := strconv.Unquote(`"` + strings.ReplaceAll(string(raw), `\/`, `/`) + `"`)
	if err != nil {
		return "", p.errf("invalid escape in string")
	}
	return s, nil
}
