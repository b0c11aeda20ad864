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
	props []jsonProp  // object members in document order (duplicates kept, marked dup)
	items []*jsonNode // array items
	line  int         // HAPI-style location, see above
	col   int
	// comments are the // and /* */ comments met while this object was the innermost one
	// being read (the root object also gets those before and after it): where each starts.
	comments []jsonPos
}

// jsonPos is a line and column (1-based, in characters).
type jsonPos struct{ line, col int }

// jsonProp is one object member.
type jsonProp struct {
	name  string
	value *jsonNode
	line  int // where the property name starts
	col   int
	dup   bool // an earlier member has the same name: this one is ignored (get skips it)
}

// get returns the member called name, or nil.
func (n *jsonNode) get(name string) *jsonNode {
	if n == nil || n.kind != jsonObject {
		return nil
	}
	for i := range n.props {
		if n.props[i].name == name && !n.props[i].dup {
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
	cur       *jsonNode // innermost object being read: owner of the comments met
	orphans   []jsonPos // comments met outside every object
	work      int       // steps taken (characters read, names compared): linear in len(src)
}

const maxJSONDepth = 200

// parseJSON parses one JSON document.
func parseJSON(src []byte) (*jsonNode, error) {
	p := &jsonParser{src: src, line: 1, col: 1}
	return p.parse()
}

func (p *jsonParser) parse() (*jsonNode, error) {
	if src := p.src; len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF { // BOM
		p.off = 3
	}
	if err := p.skipWS(); err != nil {
		return nil, err
	}
	if p.off >= len(p.src) {
		return nil, p.errf("the document is empty")
	}
	n, err := p.value(true, false)
	if err != nil {
		return nil, err
	}
	if err := p.skipWS(); err != nil {
		return nil, err
	}
	if p.off < len(p.src) {
		return nil, p.errf("unexpected %q after the end of the document", p.src[p.off])
	}
	if n.kind == jsonObject && len(p.orphans) > 0 {
		n.comments = append(p.orphans, n.comments...)
	}
	return n, nil
}

func (p *jsonParser) errf(format string, args ...any) error {
	return &JSONError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

// advance moves over one character (a whole UTF-8 sequence counts as one column).
func (p *jsonParser) advance() {
	c := p.src[p.off]
	p.work++
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

// skipWS moves over whitespace and comments (which JSON does not allow, but the HL7
// parser reads and the validator reports: see comment), recording where each comment starts.
func (p *jsonParser) skipWS() error {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\r', '\n':
			p.advance()
		case '/':
			if err := p.comment(true); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// comment moves over one // or /* */ comment starting at src[off].
func (p *jsonParser) comment(record bool) error {
	at := jsonPos{p.line, p.col}
	if p.off+1 >= len(p.src) || (p.src[p.off+1] != '/' && p.src[p.off+1] != '*') {
		return p.errf("unexpected character '/'")
	}
	block := p.src[p.off+1] == '*'
	p.advance()
	p.advance()
	for {
		if p.off >= len(p.src) {
			if block {
				return &JSONError{Line: at.line, Col: at.col, Msg: "unterminated comment"}
			}
			break
		}
		if !block && p.src[p.off] == '\n' {
			break
		}
		if block && p.src[p.off] == '*' && p.off+1 < len(p.src) && p.src[p.off+1] == '/' {
			p.advance()
			p.advance()
			break
		}
		p.advance()
	}
	if record {
		if p.cur != nil {
			p.cur.comments = append(p.cur.comments, at)
		} else {
			p.orphans = append(p.orphans, at)
		}
	}
	return nil
}

// afterNextToken returns the position just past the next token (",", "}" or "]"), without
// consuming it: where HAPI's look-ahead lexer stands when it stores a primitive.
func (p *jsonParser) afterNextToken() (int, int) {
	q := jsonParser{src: p.src, off: p.off, line: p.line, col: p.col}
	for q.off < len(q.src) {
		c := q.src[q.off]
		if c == '/' {
			if q.comment(false) != nil {
				break
			}
			continue
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		q.advance()
	}
	if q.off < len(q.src) {
		q.advance()
	}
	p.work += q.work
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
		if !validJSONNumber(lit) {
			return nil, p.errf("invalid number %q", lit)
		}
		n := &jsonNode{kind: jsonNumber, text: lit}
		n.line, n.col = p.afterNextToken()
		return n, nil
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

// validJSONNumber checks the JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// The literal is kept as written (1.10 stays 1.10; 1e400 is a number too): FHIR decimals are
// exact, so nothing here goes through float64.
func validJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func (p *jsonParser) object(root, inArray bool) (*jsonNode, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.errf("nesting deeper than %d", maxJSONDepth)
	}
	n := &jsonNode{kind: jsonObject}
	outer := p.cur
	p.cur = n
	defer func() { p.depth--; p.cur = outer }()
	p.advance() // {
	openLine, openCol := p.line, p.col
	if err := p.skipWS(); err != nil {
		return nil, err
	}
	if p.off < len(p.src) && p.src[p.off] == '}' {
		p.advance()
		n.line, n.col = p.afterNextToken()
		if root || inArray {
			n.line, n.col = openLine, openCol
		}
		return n, nil
	}
	var names map[string]bool // once the object is wide, so duplicate detection stays linear
	lastObjLine := 0
	var lastObjCol int
	for first := true; ; first = false {
		prop, isObj, err := p.member(n, first)
		if err != nil {
			return nil, err
		}
		if isObj {
			lastObjLine, lastObjCol = prop.objLine, prop.objCol
		}
		prop.dup = p.seenName(n, &names, prop.name)
		n.props = append(n.props, prop.jsonProp)
		if err := p.skipWS(); err != nil {
			return nil, err
		}
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
		return nil, p.errf("expected ',' or '}' after property %q", prop.name)
	}
	switch {
	case root || inArray:
		n.line, n.col = openLine, openCol
	case lastObjLine > 0:
		n.line, n.col = lastObjLine, lastObjCol
	}
	return n, nil
}

// seenName tells whether object n already has a member called name (linear scan while the
// object is narrow, a set once it is wide).
func (p *jsonParser) seenName(n *jsonNode, names *map[string]bool, name string) bool {
	if *names == nil && len(n.props) < 16 {
		for i := range n.props {
			p.work++
			if n.props[i].name == name {
				return true
			}
		}
		return false
	}
	if *names == nil {
		*names = make(map[string]bool, 2*len(n.props))
		for i := range n.props {
			(*names)[n.props[i].name] = true
		}
		p.work += len(n.props)
	}
	p.work++
	if (*names)[name] {
		return true
	}
	(*names)[name] = true
	return false
}

// memberRead is one object member as read, with where its value's "{" is when it is an object.
type memberRead struct {
	jsonProp
	objLine, objCol int
}

// member reads `"name" : value` inside object n; first sets n's fallback location.
func (p *jsonParser) member(n *jsonNode, first bool) (memberRead, bool, error) {
	var m memberRead
	if err := p.skipWS(); err != nil {
		return m, false, err
	}
	if p.off >= len(p.src) || p.src[p.off] != '"' {
		return m, false, p.errf("expected a property name in quotes")
	}
	m.line, m.col = p.line, p.col
	name, err := p.str()
	if err != nil {
		return m, false, err
	}
	m.name = name
	if err := p.skipWS(); err != nil {
		return m, false, err
	}
	if p.off >= len(p.src) || p.src[p.off] != ':' {
		return m, false, p.errf("expected ':' after property name %q", name)
	}
	p.advance()
	if err := p.skipWS(); err != nil {
		return m, false, err
	}
	if p.off >= len(p.src) {
		return m, false, p.errf("unexpected end of the document after %q", name)
	}
	complexStart := p.src[p.off] == '{' || p.src[p.off] == '['
	if first && complexStart { // fallback location: just past the first value's bracket
		n.line, n.col = p.line, p.col+1
	}
	isObj := p.src[p.off] == '{'
	if isObj {
		m.objLine, m.objCol = p.line, p.col+1
	}
	v, err := p.value(false, false)
	if err != nil {
		return m, false, err
	}
	if first && !complexStart {
		n.line, n.col = v.line, v.col
	}
	m.value = v
	return m, isObj, nil
}

func (p *jsonParser) array() (*jsonNode, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.errf("nesting deeper than %d", maxJSONDepth)
	}
	defer func() { p.depth-- }()
	p.advance() // [
	n := &jsonNode{kind: jsonArray, line: p.line, col: p.col}
	if err := p.skipWS(); err != nil {
		return nil, err
	}
	if p.off < len(p.src) && p.src[p.off] == ']' {
		p.advance()
		return n, nil
	}
	for {
		if err := p.skipWS(); err != nil {
			return nil, err
		}
		v, err := p.value(false, true)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		if err := p.skipWS(); err != nil {
			return nil, err
		}
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
