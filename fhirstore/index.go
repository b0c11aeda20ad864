package fhirstore

import (
	"strings"
)

// indexRows are the search index entries of one resource version, one slice per index
// table. They are written in the same transaction as the version itself.
type indexRows struct {
	strings []stringRow
	tokens  []tokenRow
	dates   []dateRow
	refs    []refRow
}

type stringRow struct{ param, norm, raw string }
type tokenRow struct{ param, system, code string }
type dateRow struct {
	param  string
	lo, hi int64
}
type refRow struct{ param, refType, refID string }

// extractIndex reads the values of every search parameter of the resource's type. Values
// that do not fit their parameter (a malformed date, a reference that is not Type/id) are
// left out of the index: the store keeps what it is sent and is not a validator.
func extractIndex(rtype string, res *object) indexRows {
	var rows indexRows
	for _, p := range paramsOf(rtype) {
		for _, path := range p.paths {
			walk(res, path, func(v any) { rows.add(p, v) })
		}
	}
	return rows
}

// walk calls fn with every value at the dotted path below v, through arrays at any step.
func walk(v any, path string, fn func(any)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			walk(e, path, fn)
		}
	case *object:
		if path == "" {
			fn(x)
			return
		}
		first, rest, _ := strings.Cut(path, ".")
		walk(x.get(first), rest, fn)
	case nil:
	default:
		if path == "" {
			fn(x)
		}
	}
}

func (r *indexRows) add(p searchParam, v any) {
	switch p.kind {
	case kindString:
		if s, ok := v.(string); ok && s != "" {
			r.strings = append(r.strings, stringRow{p.name, fold(s), s})
		}
	case kindToken:
		r.addToken(p.name, v)
	case kindDate:
		switch x := v.(type) {
		case string:
			if lo, hi, err := dateRange(x); err == nil {
				r.dates = append(r.dates, dateRow{p.name, lo, hi})
			}
		case *object: // a Period
			if lo, hi, ok := periodRange(x); ok {
				r.dates = append(r.dates, dateRow{p.name, lo, hi})
			}
		}
	case kindReference:
		o, ok := v.(*object)
		if !ok {
			return
		}
		if t, id, ok := parseReference(o.str("reference")); ok && (p.target == "" || p.target == t) {
			r.refs = append(r.refs, refRow{p.name, t, id})
		}
	}
}

// addToken indexes a code, boolean, Coding, CodeableConcept, Identifier or ContactPoint.
func (r *indexRows) addToken(param string, v any) {
	switch x := v.(type) {
	case string:
		r.tokens = append(r.tokens, tokenRow{param, "", x})
	case bool:
		s := "false"
		if x {
			s = "true"
		}
		r.tokens = append(r.tokens, tokenRow{param, "", s})
	case *object:
		if codings, ok := x.get("coding").([]any); ok { // CodeableConcept
			for _, c := range codings {
				if co, ok := c.(*object); ok && co.str("code") != "" {
					r.tokens = append(r.tokens, tokenRow{param, co.str("system"), co.str("code")})
				}
			}
			return
		}
		if code := x.str("code"); code != "" { // Coding
			r.tokens = append(r.tokens, tokenRow{param, x.str("system"), code})
		} else if val := x.str("value"); val != "" { // Identifier, ContactPoint
			r.tokens = append(r.tokens, tokenRow{param, x.str("system"), val})
		}
	}
}

// parseReference reads "Type/id", "Type/id/_history/n" or an absolute URL ending in
// Type/id. Contained (#x) and unresolved urn: references are not Type/id.
func parseReference(ref string) (rtype, id string, ok bool) {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "urn:") {
		return "", "", false
	}
	parts := strings.Split(ref, "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		parts = parts[:n-2]
	}
	n := len(parts)
	if n < 2 || !isResourceType(parts[n-2]) || !validID(parts[n-1]) {
		return "", "", false
	}
	return parts[n-2], parts[n-1], true
}
