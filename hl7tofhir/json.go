package hl7tofhir

import (
	"encoding/json"
	"junction/internal/jsontext"
)

// Object is a JSON object that keeps its keys in insertion order, so each
// resource renders with resourceType and id first, as FHIR examples do.
// Values are string, bool, int, json.Number, *Object or []any. Set skips
// empty values, so a mapping never emits "" or {} (FHIR forbids both).
type Object struct {
	keys []string
	vals []any
}

func newObject() *Object { return &Object{} }

// obj builds an Object from key/value pairs, skipping empty values.
func obj(kv ...any) *Object {
	o := &Object{keys: make([]string, 0, len(kv)/2), vals: make([]any, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// Set stores v under k (replacing an earlier value) unless v is empty.
func (o *Object) Set(k string, v any) *Object {
	if isEmpty(v) {
		return o
	}
	for i, key := range o.keys {
		if key == k {
			o.vals[i] = v
			return o
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
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
	for i, key := range o.keys {
		if key == k {
			return o.vals[i]
		}
	}
	return nil
}

// Len is the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
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
// readable in logs and golden files.
func (o *Object) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, o, "", ""), nil
}

// indentJSON renders v with two-space indentation.
func indentJSON(v any) []byte {
	return append(appendJSON(nil, v, "\n", "  "), '\n')
}

// appendJSON writes v; nl is "" for compact output, or "\n" plus the
// current indentation, and ind is one level of indentation.
func appendJSON(b []byte, v any, nl, ind string) []byte {
	switch x := v.(type) {
	case *Object:
		if x.Len() == 0 {
			return append(b, "{}"...)
		}
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, nl...)
			b = append(b, ind...)
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			if nl != "" {
				b = append(b, ' ')
			}
			b = appendJSON(b, x.vals[i], nextIndent(nl, ind), ind)
		}
		b = append(b, nl...)
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
			b = append(b, nl...)
			b = append(b, ind...)
			b = appendJSON(b, e, nextIndent(nl, ind), ind)
		}
		b = append(b, nl...)
		return append(b, ']')
	}
	if out, ok := jsontext.AppendScalar(b, v); ok {
		return out
	}
	panic("hl7tofhir: unsupported JSON value type") // a programming error in a mapping
}

func nextIndent(nl, ind string) string {
	if nl == "" {
		return ""
	}
	return nl + ind
}
