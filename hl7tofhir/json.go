package hl7tofhir

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"junction/internal/jsontext"
)

// Object is a JSON object that keeps its keys in insertion order, so each
// resource renders with resourceType and id first, as FHIR examples do.
// Values are string, bool, int, json.Number, *Object or []any. Set skips
// empty values, so a mapping never emits "" or {} (FHIR forbids both).
type Object struct {
	members []member
}

// member is one key and its value; keys and values share one slice, so an
// Object costs two allocations, not three.
type member struct {
	key string
	val any
}

func newObject() *Object { return &Object{} }

// obj builds an Object from key/value pairs, skipping empty values.
func obj(kv ...any) *Object {
	n := 0
	for i := 1; i < len(kv); i += 2 {
		if !isEmpty(kv[i]) {
			n++
		}
	}
	o := &Object{members: make([]member, 0, n)}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// Set stores v under k (replacing an earlier value) unless v is empty. A
// string under "code" (Coding.code, Quantity.code: the FHIR code type) has
// its whitespace runs made single spaces, as the code syntax requires:
// senders pad codes ("87  086", "N ").
func (o *Object) Set(k string, v any) *Object {
	if s, ok := v.(string); ok && k == "code" {
		v = codeText(s)
	}
	if isEmpty(v) {
		return o
	}
	for i := range o.members {
		if o.members[i].key == k {
			o.members[i].val = v
			return o
		}
	}
	o.members = append(o.members, member{k, v})
	return o
}

// Append adds v to the array under k, creating it; empty values are skipped.
func (o *Object) Append(k string, v any) *Object {
	if isEmpty(v) {
		return o
	}
	if arr, ok := o.Get(k).([]any); ok {
		return o.Set(k, append(arr, v))
	}
	return o.Set(k, []any{v})
}

// Get returns the value stored under k, or nil.
func (o *Object) Get(k string) any {
	if o == nil {
		return nil
	}
	for i := range o.members {
		if o.members[i].key == k {
			return o.members[i].val
		}
	}
	return nil
}

// Len is the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.members)
}

// codeText is s with leading and trailing whitespace removed and each inner
// run of whitespace made one space; s itself when it is already so.
func codeText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == '\t' || b == '\n' || b == '\r' || (b == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case json.Number:
		return x == ""
	case *Object:
		return x.Len() == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// MarshalJSON writes the object with its keys in order. Strings are not
// HTML-escaped: FHIR JSON is not embedded in HTML, and "A&E" should stay
// readable in logs and golden files. The output is sized before it is
// written, so it takes one allocation of exactly its size: growing a large
// Bundle in steps would allocate several times its size.
func (o *Object) MarshalJSON() ([]byte, error) {
	return appendJSON(make([]byte, 0, jsonSize(o, false, 0)), o, false, 0), nil
}

// indentJSON renders v with two-space indentation.
func indentJSON(v any) []byte {
	b := make([]byte, 0, jsonSize(v, true, 0)+1)
	return append(appendJSON(b, v, true, 0), '\n')
}

// appendJSON writes v at nesting depth; indent selects two-space indented
// output (each member on its own line) over compact output. jsonSize must
// agree with it byte for byte.
func appendJSON(b []byte, v any, indent bool, depth int) []byte {
	switch x := v.(type) {
	case *Object:
		if x.Len() == 0 {
			return append(b, "{}"...)
		}
		b = append(b, '{')
		for i, m := range x.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = newline(b, indent, depth+1)
			b = jsontext.AppendString(b, m.key)
			b = append(b, ':')
			if indent {
				b = append(b, ' ')
			}
			b = appendJSON(b, m.val, indent, depth+1)
		}
		b = newline(b, indent, depth)
		return append(b, '}')
	case []any:
		if len(x) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = newline(b, indent, depth+1)
			b = appendJSON(b, e, indent, depth+1)
		}
		b = newline(b, indent, depth)
		return append(b, ']')
	}
	if out, ok := jsontext.AppendScalar(b, v); ok {
		return out
	}
	panic("hl7tofhir: unsupported JSON value type") // a programming error in a mapping
}

const spaces = "                                                                "

// newline starts a line indented to depth, when indenting.
func newline(b []byte, indent bool, depth int) []byte {
	if !indent {
		return b
	}
	b = append(b, '\n')
	for n := 2 * depth; n > 0; n -= len(spaces) {
		b = append(b, spaces[:min(n, len(spaces))]...)
	}
	return b
}

// jsonSize is the length of appendJSON's output for v.
func jsonSize(v any, indent bool, depth int) int {
	line := 0 // a newline and the indentation of a member
	if indent {
		line = 1 + 2*(depth+1)
	}
	switch x := v.(type) {
	case *Object:
		if x.Len() == 0 {
			return 2
		}
		n := 2 + len(x.members) - 1 + len(x.members)*line + max(line-2, 0) // {} commas, lines, closing line
		for _, m := range x.members {
			n += jsonStringSize(m.key) + 1 + jsonSize(m.val, indent, depth+1)
			if indent {
				n++ // the space after ':'
			}
		}
		return n
	case []any:
		if len(x) == 0 {
			return 2
		}
		n := 2 + len(x) - 1 + len(x)*line + max(line-2, 0)
		for _, e := range x {
			n += jsonSize(e, indent, depth+1)
		}
		return n
	case string:
		return jsonStringSize(x)
	case json.Number:
		return len(x)
	case bool:
		if x {
			return 4
		}
		return 5
	case int:
		return intSize(x)
	case nil:
		return 4
	}
	return 0 // appendJSON panics on it
}

// jsonStringSize is the length of jsontext.AppendString's output for s.
func jsonStringSize(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		// Skip 8 bytes at a time while they need no escaping.
		for i+8 <= len(s) && plainASCII(s[i:i+8]) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n++
		case c < 0x20:
			n += 5 // \u00XX
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				n += 5 // \ufffd for one byte
			case r == '\u2028' || r == '\u2029':
				n += 3 // \u2028 for three bytes
			}
			i += size - 1
		}
	}
	return n
}

// plainASCII reports whether the 8 bytes of w are all printable ASCII
// other than '"' and '\\', i.e. written to JSON as they are.
func plainASCII(w string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs } // a byte of v is 0
	control := (x - ones*0x20) & ^x & highs                          // a byte < 0x20
	return x&highs|control|zero(x^(ones*'"'))|zero(x^(ones*'\\')) == 0
}

func intSize(x int) int {
	n := 1
	if x < 0 {
		n++ // '-'; -x may overflow, so count digits on the way
	}
	for x <= -10 || x >= 10 {
		x /= 10
		n++
	}
	return n
}
