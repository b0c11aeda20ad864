package fhirstore

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"junction/internal/jsontext"
	"slices"
	"unicode/utf8"
)

// object is a JSON object that keeps its members in document order, so a stored resource
// reads as its sender wrote it. Values are string, json.Number, bool, nil, *object or []any.
type object struct {
	keys []string
	vals []any
}

func (o *object) get(k string) any {
	if o == nil {
		return nil
	}
	for i, key := range o.keys {
		if key == k {
			return o.vals[i]
		}
	}
	return nil
}

func (o *object) str(k string) string {
	s, _ := o.get(k).(string)
	return s
}

func (o *object) obj(k string) *object {
	v, _ := o.get(k).(*object)
	return v
}

// set replaces the value of k, or appends k when absent.
func (o *object) set(k string, v any) {
	for i, key := range o.keys {
		if key == k {
			o.vals[i] = v
			return
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *object) del(k string) {
	for i, key := range o.keys {
		if key == k {
			o.keys = slices.Delete(o.keys, i, i+1)
			o.vals = slices.Delete(o.vals, i, i+1)
			return
		}
	}
}

// parseJSON reads one JSON value. It checks the whole text with json.Valid first (fast, and
// its errors are not needed: the caller only says the content is not JSON), so the parser
// below can trust the syntax.
func parseJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("the content is not valid UTF-8 (FHIR JSON must be UTF-8)")
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // only for its message, which names the offset
		return nil, fmt.Errorf("the content is not valid JSON: %v", err)
	}
	p := parser{s: data}
	return p.value(), nil
}

type parser struct {
	s []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() any {
	p.ws()
	switch p.s[p.i] {
	case '{':
		p.i++
		o := &object{}
		for {
			p.ws()
			if p.s[p.i] == '}' {
				p.i++
				return o
			}
			if p.s[p.i] == ',' {
				p.i++
				p.ws()
			}
			k := p.str()
			p.ws()
			p.i++               // ':'
			o.set(k, p.value()) // a repeated key keeps its last value, as encoding/json does
		}
	case '[':
		p.i++
		arr := []any{}
		for {
			p.ws()
			if p.s[p.i] == ']' {
				p.i++
				return arr
			}
			if p.s[p.i] == ',' {
				p.i++
			}
			arr = append(arr, p.value())
		}
	case '"':
		return p.str()
	case 't':
		p.i += 4
		return true
	case 'f':
		p.i += 5
		return false
	case 'n':
		p.i += 4
		return nil
	}
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			p.i++
			continue
		}
		break
	}
	// The literal is kept as written: 3.0 stays 3.0, as FHIR decimals require.
	return json.Number(p.s[start:p.i])
}

// str reads a string starting at its opening quote. Strings without escapes (nearly all)
// are sliced; the rest are decoded by encoding/json.
func (p *parser) str() string {
	start := p.i
	p.i++
	escaped := false
	for p.s[p.i] != '"' {
		if p.s[p.i] == '\\' {
			escaped = true
			p.i++
		}
		p.i++
	}
	p.i++
	if !escaped {
		return string(p.s[start+1 : p.i-1])
	}
	var s string
	json.Unmarshal(p.s[start:p.i], &s) // valid: json.Valid passed
	return s
}

// appendJSON writes v compactly. Strings are not HTML-escaped: FHIR JSON is not embedded
// in HTML, and "A&E" should stay readable.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case *object:
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x.vals[i])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	if out, ok := jsontext.AppendScalar(b, v); ok {
		return out
	}
	panic(fmt.Sprintf("fhirstore: cannot encode %T as JSON", v)) // a programming error
}

// contentHash identifies a resource's content regardless of member order and of the
// server-set meta.versionId and meta.lastUpdated: an update with the same hash as the
// current version changes nothing and makes no new version (as HAPI does).
func contentHash(res *object) []byte {
	b := appendCanonical(make([]byte, 0, 2048), res, true)
	sum := sha256.Sum256(b)
	return sum[:]
}

// appendCanonical is appendJSON with members sorted by name; at the top (root) meta's
// versionId and lastUpdated are left out, and a meta left empty is dropped.
func appendCanonical(b []byte, v any, root bool) []byte {
	switch x := v.(type) {
	case *object:
		idx := make([]int, len(x.keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, c int) int {
			switch {
			case x.keys[a] < x.keys[c]:
				return -1
			case x.keys[a] > x.keys[c]:
				return 1
			}
			return 0
		})
		b = append(b, '{')
		first := true
		for _, i := range idx {
			k, val := x.keys[i], x.vals[i]
			if root && k == "meta" {
				if m, ok := val.(*object); ok {
					m = withoutServerMeta(m)
					if m == nil {
						continue
					}
					val = m
				}
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, val, false)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e, false)
		}
		return append(b, ']')
	}
	return appendJSON(b, v)
}

// withoutServerMeta is meta without versionId and lastUpdated, nil when nothing is left.
func withoutServerMeta(m *object) *object {
	out := &object{}
	for i, k := range m.keys {
		if k != "versionId" && k != "lastUpdated" {
			out.keys = append(out.keys, k)
			out.vals = append(out.vals, m.vals[i])
		}
	}
	if len(out.keys) == 0 {
		return nil
	}
	return out
}
