package fhir

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FHIR XML (http://hl7.org/fhir/R4/xml.html) is read into the same tree of JSON values the
// JSON parser builds, so the rest of the package sees a resource the same whichever way it
// was written: primitives come from their value attribute (decimal, integer and boolean as
// JSON numbers and booleans) with their id attribute and extensions under _name, elements
// repeat as arrays where the base definitions allow more than one, a choice keeps its typed
// name (valueQuantity), contained and nested resources are unwrapped (<contained><Patient>),
// and the xhtml div is kept as its text. Each value remembers where its start tag was.

const (
	fhirNS  = "http://hl7.org/fhir"
	xhtmlNS = "http://www.w3.org/1999/xhtml"
	xmlNS   = "http://www.w3.org/XML/1998/namespace"
)

// XMLError is a fault in a FHIR XML document, with its place.
type XMLError struct {
	Line, Col int
	Msg       string
}

func (e *XMLError) Error() string {
	return fmt.Sprintf("invalid FHIR XML at line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// xmlReader reads one FHIR XML document with the base definitions' element types.
type xmlReader struct {
	d     *xml.Decoder
	types map[string]*typeInfo
	depth int
	line  int // where the token last returned by next starts
	col   int
}

// isXMLDocument tells a document written in XML (its first character, after white space and
// a byte order mark, is '<') from JSON.
func isXMLDocument(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '<'
}

// parseFHIRXML reads a FHIR resource written in XML.
func parseFHIRXML(src []byte, types map[string]*typeInfo) (*jsonNode, error) {
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	x := &xmlReader{d: xml.NewDecoder(bytes.NewReader(src)), types: types}
	var root *jsonNode
	for {
		tok, err := x.next()
		if err == io.EOF {
			if root == nil {
				return nil, x.errf("the document has no root element")
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil {
				return nil, x.errf("a second root element <%s>", t.Name.Local)
			}
			if root, err = x.resource(t); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, x.errf("text outside the root element")
			}
		case xml.Directive:
			return nil, x.errf("DTDs and other directives are not allowed in FHIR XML")
		}
	}
}

// next returns the next token, noting where it starts.
func (x *xmlReader) next() (xml.Token, error) {
	x.line, x.col = x.d.InputPos()
	tok, err := x.d.Token()
	if err != nil && err != io.EOF {
		var se *xml.SyntaxError
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Msg
		}
		l, c := x.d.InputPos()
		return nil, &XMLError{Line: l, Col: c, Msg: msg}
	}
	return tok, err
}

func (x *xmlReader) errf(format string, args ...any) error {
	return &XMLError{Line: x.line, Col: x.col, Msg: fmt.Sprintf(format, args...)}
}

func (x *xmlReader) enter() error {
	if x.depth++; x.depth > maxJSONDepth {
		return x.errf("elements nest more than %d deep", maxJSONDepth)
	}
	return nil
}

// resource reads a resource element: <Patient xmlns="http://hl7.org/fhir">…</Patient>.
func (x *xmlReader) resource(start xml.StartElement) (*jsonNode, error) {
	name := start.Name.Local
	if start.Name.Space != fhirNS {
		return nil, x.errf("<%s> is not in the FHIR namespace %s", name, fhirNS)
	}
	if x.types[name] == nil || !isResourceName(name) {
		return nil, x.errf("<%s> is not a FHIR resource", name)
	}
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer func() { x.depth-- }()
	obj := &jsonNode{kind: jsonObject, line: x.line, col: x.col}
	obj.props = append(obj.props, jsonProp{name: "resourceType", line: x.line, col: x.col,
		value: &jsonNode{kind: jsonString, text: name, line: x.line, col: x.col}})
	if err := x.attributes(start, obj, false); err != nil {
		return nil, err
	}
	return obj, x.children(obj, name, name)
}

// attributes copies the id attribute (and url, on an extension) into obj; xmlns
// declarations are skipped and anything else refused.
func (x *xmlReader) attributes(start xml.StartElement, obj *jsonNode, element bool) error {
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
		case element && a.Name.Space == "" && (a.Name.Local == "id" || a.Name.Local == "url"):
			obj.props = append(obj.props, jsonProp{name: a.Name.Local, line: x.line, col: x.col,
				value: &jsonNode{kind: jsonString, text: a.Value, line: x.line, col: x.col}})
		default:
			return x.errf("unexpected attribute %s on <%s>", a.Name.Local, start.Name.Local)
		}
	}
	return nil
}

// xmlGroup collects the occurrences of one element name among the children of an element.
type xmlGroup struct {
	name       string
	list, prim bool
	vals, exts []*jsonNode // one per occurrence; nil where absent (primitives)
	line, col  int
}

// children reads the child elements of an element whose content typeInfo key describes,
// up to its end tag, into obj.
func (x *xmlReader) children(obj *jsonNode, key, elem string) error {
	ti := x.types[key]
	if ti == nil {
		return x.errf("no definition describes the content of <%s>", elem)
	}
	var groups []*xmlGroup
	byName := map[string]*xmlGroup{}
	for {
		tok, err := x.next()
		if err == io.EOF {
			return x.errf("the document ends inside <%s>", elem)
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			finish(obj, groups)
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return x.errf("text is not allowed in <%s>", elem)
			}
		case xml.StartElement:
			name := t.Name.Local
			be, typ := ti.lookup(name)
			if be == nil {
				return x.errf("unknown element <%s> in <%s>", name, elem)
			}
			if want := fhirNS; typ == "xhtml" {
				want = xhtmlNS
				if t.Name.Space != want {
					return x.errf("<%s> is not in the namespace %s", name, want)
				}
			} else if t.Name.Space != want {
				return x.errf("<%s> is not in the namespace %s", name, want)
			}
			g := byName[name]
			if g == nil {
				g = &xmlGroup{name: name, list: be.list, prim: isPrimitive(typ), line: x.line, col: x.col}
				byName[name] = g
				groups = append(groups, g)
			} else if !g.list {
				return x.errf("<%s> repeats in <%s>, where it may occur once", name, elem)
			}
			if err := x.element(t, g, be, typ); err != nil {
				return err
			}
		}
	}
}

// element reads one child element into its group.
func (x *xmlReader) element(t xml.StartElement, g *xmlGroup, be *baseElem, typ string) error {
	if err := x.enter(); err != nil {
		return err
	}
	defer func() { x.depth-- }()
	switch {
	case typ == "xhtml":
		s, err := x.xhtml(t)
		g.vals, g.exts = append(g.vals, &jsonNode{kind: jsonString, text: s, line: g.line, col: g.col}), append(g.exts, nil)
		return err
	case g.prim:
		v, ext, err := x.primitive(t, typ)
		g.vals, g.exts = append(g.vals, v), append(g.exts, ext)
		return err
	case typ == "Resource":
		r, err := x.wrapped(t)
		g.vals = append(g.vals, r)
		return err
	}
	obj := &jsonNode{kind: jsonObject, line: x.line, col: x.col}
	if err := x.attributes(t, obj, true); err != nil {
		return err
	}
	g.vals = append(g.vals, obj)
	return x.children(obj, be.childKey(typ), t.Name.Local)
}

// primitive reads <name value="…" id="…"> with its extensions: the value, and the object
// of its _name twin (nil when it has neither id nor extension).
func (x *xmlReader) primitive(t xml.StartElement, typ string) (*jsonNode, *jsonNode, error) {
	line, col := x.line, x.col
	var val *jsonNode
	ext := &jsonNode{kind: jsonObject, line: line, col: col}
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
		case a.Name.Space == "" && a.Name.Local == "value":
			val = primitiveJSON(a.Value, typ, line, col)
		case a.Name.Space == "" && a.Name.Local == "id":
			ext.props = append(ext.props, jsonProp{name: "id", line: line, col: col,
				value: &jsonNode{kind: jsonString, text: a.Value, line: line, col: col}})
		default:
			return nil, nil, x.errf("unexpected attribute %s on <%s>", a.Name.Local, t.Name.Local)
		}
	}
	if err := x.children(ext, typ, t.Name.Local); err != nil {
		return nil, nil, err
	}
	if len(ext.props) == 0 && val != nil {
		ext = nil
	}
	return val, ext, nil
}

// primitiveJSON is the JSON value of a primitive: numbers and booleans as such when they are
// written as JSON would have them (otherwise a string, which the reader then reports).
func primitiveJSON(s, typ string, line, col int) *jsonNode {
	n := &jsonNode{kind: jsonString, text: s, line: line, col: col}
	switch primitiveTypes[typ] {
	case jsonNumber:
		if validJSONNumber(s) {
			n.kind = jsonNumber
		}
	case jsonBool:
		if s == "true" || s == "false" {
			n.kind = jsonBool
		}
	}
	return n
}

// wrapped reads an element holding one resource: <contained><Patient>…</Patient></contained>.
func (x *xmlReader) wrapped(t xml.StartElement) (*jsonNode, error) {
	var res *jsonNode
	for {
		tok, err := x.next()
		if err == io.EOF {
			return nil, x.errf("the document ends inside <%s>", t.Name.Local)
		}
		if err != nil {
			return nil, err
		}
		switch tt := tok.(type) {
		case xml.EndElement:
			if res == nil {
				return nil, x.errf("<%s> holds no resource", t.Name.Local)
			}
			return res, nil
		case xml.CharData:
			if len(bytes.TrimSpace(tt)) > 0 {
				return nil, x.errf("text is not allowed in <%s>", t.Name.Local)
			}
		case xml.StartElement:
			if res != nil {
				return nil, x.errf("<%s> holds more than one resource", t.Name.Local)
			}
			if res, err = x.resource(tt); err != nil {
				return nil, err
			}
		}
	}
}

// finish turns the groups of an element's children into its JSON properties: single
// elements as values, repeating ones as arrays, primitives with their _name twin.
func finish(obj *jsonNode, groups []*xmlGroup) {
	for _, g := range groups {
		if v := groupValue(g, g.vals); v != nil {
			obj.props = append(obj.props, jsonProp{name: g.name, value: v, line: g.line, col: g.col})
		}
		if g.prim {
			if e := groupValue(g, g.exts); e != nil {
				obj.props = append(obj.props, jsonProp{name: "_" + g.name, value: e, line: g.line, col: g.col})
			}
		}
	}
}

// groupValue is the JSON of one side of a group: nil when every item is absent.
func groupValue(g *xmlGroup, items []*jsonNode) *jsonNode {
	present := false
	for _, it := range items {
		present = present || it != nil
	}
	if !present {
		return nil
	}
	if !g.list {
		return items[0]
	}
	arr := &jsonNode{kind: jsonArray, line: g.line, col: g.col, items: make([]*jsonNode, len(items))}
	for i, it := range items {
		if it == nil {
			it = &jsonNode{kind: jsonNull, line: g.line, col: g.col}
		}
		arr.items[i] = it
	}
	return arr
}

// xhtml writes the div element and its content back as text, with the XHTML namespace on
// the div, as the JSON form carries it.
func (x *xmlReader) xhtml(start xml.StartElement) (string, error) {
	var b strings.Builder
	open := false // a start tag is written up to its '>'
	writeStart := func(t xml.StartElement, root bool) {
		b.WriteByte('<')
		b.WriteString(t.Name.Local)
		if root {
			b.WriteString(` xmlns="` + xhtmlNS + `"`)
		}
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				continue
			}
			b.WriteByte(' ')
			if a.Name.Space == xmlNS {
				b.WriteString("xml:")
			}
			b.WriteString(a.Name.Local)
			b.WriteString(`="`)
			escapeXML(&b, a.Value, true)
			b.WriteByte('"')
		}
		open = true
	}
	closeOpen := func() {
		if open {
			b.WriteByte('>')
			open = false
		}
	}
	writeStart(start, true)
	for depth := 1; depth > 0; {
		tok, err := x.next()
		if err == io.EOF {
			return "", x.errf("the document ends inside the xhtml <div>")
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != xhtmlNS {
				return "", x.errf("<%s> in the narrative is not XHTML", t.Name.Local)
			}
			if depth++; depth > maxJSONDepth {
				return "", x.errf("the narrative nests more than %d deep", maxJSONDepth)
			}
			closeOpen()
			writeStart(t, false)
		case xml.EndElement:
			depth--
			if open {
				b.WriteString("/>")
				open = false
				continue
			}
			b.WriteString("</" + t.Name.Local + ">")
		case xml.CharData:
			closeOpen()
			escapeXML(&b, string(t), false)
		}
	}
	return b.String(), nil
}

// escapeXML writes s escaped for element content or (attr) a double-quoted attribute.
func escapeXML(b *strings.Builder, s string, attr bool) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>' && !attr:
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
}

// XMLToJSON converts a FHIR resource written in XML to its JSON form.
func (v *Validator) XMLToJSON(data []byte) ([]byte, error) {
	j, err := parseFHIRXML(data, v.types)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	writeJSONNode(&b, j)
	return b.Bytes(), nil
}

// parseDocument parses a resource written in JSON or, when it starts with '<', in XML.
func parseDocument(data []byte, types map[string]*typeInfo) (*jsonNode, error) {
	if isXMLDocument(data) {
		return parseFHIRXML(data, types)
	}
	return parseJSON(data)
}

// writeJSONNode writes a parsed value back as compact JSON.
func writeJSONNode(b *bytes.Buffer, j *jsonNode) {
	switch j.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonString:
		writeJSONString(b, j.text)
	case jsonNumber, jsonBool:
		b.WriteString(j.text)
	case jsonArray:
		b.WriteByte('[')
		for i, it := range j.items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONNode(b, it)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, p := range j.props {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, p.name)
			b.WriteByte(':')
			writeJSONNode(b, p.value)
		}
		b.WriteByte('}')
	}
}
