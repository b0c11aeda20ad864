package fhir

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// FHIRPath functions. Each takes the input collection (in) and the focus the arguments are
// evaluated against; iterating functions (where, select, all, exists(criteria), repeat)
// evaluate their argument once per item with $this set.

func (e *fpEnv) call(x *fpNode, in, focus []item) ([]item, error) {
	argN := func(n int) error {
		if len(x.args) != n {
			return fmt.Errorf("%s() takes %d argument(s), found %d", x.name, n, len(x.args))
		}
		return nil
	}
	// Arguments of non-iterating functions are evaluated against the expression's focus
	// ($this of the enclosing iteration), not against the input.
	arg := func(i int) ([]item, error) { return e.eval(x.args[i], focus) }
	argString := func(i int) (string, bool, error) {
		v, err := arg(i)
		if err != nil || len(v) == 0 {
			return "", false, err
		}
		p, ok := prim(v[0])
		if !ok {
			return "", false, nil
		}
		switch p.k {
		case kInteger:
			return strconv.FormatInt(p.i, 10), true, nil
		}
		return p.s, true, nil
	}
	argInt := func(i int) (int, bool, error) {
		v, err := arg(i)
		if err != nil || len(v) == 0 {
			return 0, false, err
		}
		p, ok := prim(v[0])
		if !ok || p.k != kInteger {
			return 0, false, fmt.Errorf("%s() needs an integer argument", x.name)
		}
		return int(p.i), true, nil
	}
	single := func() (item, bool, error) {
		if len(in) == 0 {
			return item{}, false, nil
		}
		if len(in) > 1 {
			return item{}, false, fmt.Errorf("%s() can only be used on a single value, found %d", x.name, len(in))
		}
		return in[0], true, nil
	}
	singleString := func() (string, bool, error) {
		it, ok, err := single()
		if !ok || err != nil {
			return "", false, err
		}
		p, ok := prim(it)
		if !ok || p.k != kString {
			return "", false, nil
		}
		return p.s, true, nil
	}

	switch x.name {
	case "empty":
		return boolColl(len(in) == 0), nil
	case "exists":
		if len(x.args) == 0 {
			return boolColl(len(in) > 0), nil
		}
		out, err := e.filter(x.args[0], in)
		return boolColl(len(out) > 0), err
	case "hasValue":
		return boolColl(len(in) == 1 && in[0].n != nil && in[0].n.hasValue), nil
	case "where":
		if err := argN(1); err != nil {
			return nil, err
		}
		return e.filter(x.args[0], in)
	case "select":
		if err := argN(1); err != nil {
			return nil, err
		}
		var out []item
		for i, it := range in {
			v, err := e.withThis(x.args[0], it, i)
			if err != nil {
				return nil, err
			}
			out = append(out, v...)
		}
		return out, nil
	case "repeat":
		if err := argN(1); err != nil {
			return nil, err
		}
		var out []item
		queue := in
		for len(queue) > 0 && len(out) < 100000 {
			var next []item
			for i, it := range queue {
				v, err := e.withThis(x.args[0], it, i)
				if err != nil {
					return nil, err
				}
				next = append(next, v...)
			}
			out = append(out, next...)
			queue = next
		}
		return out, nil
	case "all":
		if err := argN(1); err != nil {
			return nil, err
		}
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
	case "allTrue", "anyTrue", "allFalse", "anyFalse":
		want := strings.Contains(x.name, "True")
		all := strings.HasPrefix(x.name, "all")
		for _, it := range in {
			p, _ := prim(it)
			if all && p.b != want {
				return boolColl(false), nil
			}
			if !all && p.b == want {
				return boolColl(true), nil
			}
		}
		return boolColl(all), nil
	case "count":
		return []item{intItem(int64(len(in)))}, nil
	case "first":
		if len(in) == 0 {
			return nil, nil
		}
		return in[:1], nil
	case "last":
		if len(in) == 0 {
			return nil, nil
		}
		return in[len(in)-1:], nil
	case "tail":
		if len(in) < 2 {
			return nil, nil
		}
		return in[1:], nil
	case "skip", "take":
		n, ok, err := argInt(0)
		if err != nil || !ok {
			return nil, err
		}
		n = max(0, min(n, len(in)))
		if x.name == "skip" {
			return in[n:], nil
		}
		return in[:n], nil
	case "single":
		if len(in) > 1 {
			return nil, errors.New("single() found more than one item")
		}
		return in, nil
	case "distinct":
		return union(in, nil), nil
	case "isDistinct":
		return boolColl(len(union(in, nil)) == len(in)), nil
	case "union", "combine":
		o, err := arg(0)
		if err != nil {
			return nil, err
		}
		if x.name == "combine" {
			return append(append([]item(nil), in...), o...), nil
		}
		return union(in, o), nil
	case "intersect", "exclude":
		o, err := arg(0)
		if err != nil {
			return nil, err
		}
		var out []item
		for _, it := range in {
			found := false
			for _, b := range o {
				if equalItems(it, b, false) {
					found = true
					break
				}
			}
			if found == (x.name == "intersect") {
				out = append(out, it)
			}
		}
		if x.name == "intersect" {
			out = union(out, nil)
		}
		return out, nil
	case "subsetOf", "supersetOf":
		o, err := arg(0)
		if err != nil {
			return nil, err
		}
		a, b := in, o
		if x.name == "supersetOf" {
			a, b = o, in
		}
		for _, it := range a {
			found := false
			for _, c := range b {
				if equalItems(it, c, false) {
					found = true
					break
				}
			}
			if !found {
				return boolColl(false), nil
			}
		}
		return boolColl(true), nil
	case "not":
		b, known, err := boolOf(in)
		if err != nil || !known {
			return nil, err
		}
		return boolColl(!b), nil
	case "iif":
		if len(x.args) < 2 || len(x.args) > 3 {
			return nil, errors.New("iif() takes 2 or 3 arguments")
		}
		c, err := e.eval(x.args[0], focus)
		if err != nil {
			return nil, err
		}
		if b, known, err := boolOf(c); err != nil {
			return nil, err
		} else if known && b {
			return e.eval(x.args[1], focus)
		}
		if len(x.args) == 3 {
			return e.eval(x.args[2], focus)
		}
		return nil, nil
	case "ofType":
		return ofType(in, x.typ), nil
	case "is":
		if len(in) != 1 {
			return nil, nil
		}
		return boolColl(isType(in[0], x.typ)), nil
	case "as":
		return ofType(in, x.typ), nil
	case "children":
		var out []item
		for _, it := range in {
			if it.n != nil {
				out = append(out, nodeItems(it.n.children)...)
			}
		}
		return out, nil
	case "descendants":
		var out []item
		var walk func(n *node)
		walk = func(n *node) {
			for _, c := range n.children {
				out = append(out, item{n: c})
				walk(c)
			}
		}
		for _, it := range in {
			if it.n != nil {
				walk(it.n)
			}
		}
		return out, nil
	case "trace":
		return in, nil
	case "toString":
		it, ok, err := single()
		if !ok || err != nil {
			return nil, err
		}
		p, ok := prim(it)
		if !ok {
			return nil, nil
		}
		return []item{strItem(itemString(p))}, nil
	case "toInteger":
		it, ok, err := single()
		if !ok || err != nil {
			return nil, err
		}
		p, ok := prim(it)
		if !ok {
			return nil, nil
		}
		switch p.k {
		case kInteger:
			return []item{p}, nil
		case kBoolean:
			if p.b {
				return []item{intItem(1)}, nil
			}
			return []item{intItem(0)}, nil
		case kString:
			if i, err := strconv.ParseInt(p.s, 10, 64); err == nil {
				return []item{intItem(i)}, nil
			}
		}
		return nil, nil
	case "toDecimal":
		it, ok, err := single()
		if !ok || err != nil {
			return nil, err
		}
		p, _ := prim(it)
		if f, ok := numVal(p); ok {
			return []item{{k: kDecimal, f: f}}, nil
		}
		if f, err := strconv.ParseFloat(p.s, 64); err == nil && p.k == kString {
			return []item{{k: kDecimal, f: f}}, nil
		}
		return nil, nil
	case "length":
		s, ok, err := singleString()
		if !ok || err != nil {
			return nil, err
		}
		return []item{intItem(int64(len([]rune(s))))}, nil
	case "startsWith", "endsWith", "contains", "matches", "indexOf":
		s, ok, err := singleString()
		if err != nil {
			return nil, err
		}
		if !ok {
			// Like the HL7 FHIRPath engine the published invariants were written against
			// (ref-1: reference.startsWith('#').not() or …), these answer false on an
			// empty input rather than empty.
			if len(in) == 0 && x.name != "indexOf" {
				return boolColl(false), nil
			}
			return nil, nil
		}
		a, aok, err := argString(0)
		if !aok || err != nil {
			return nil, err
		}
		switch x.name {
		case "startsWith":
			return boolColl(strings.HasPrefix(s, a)), nil
		case "endsWith":
			return boolColl(strings.HasSuffix(s, a)), nil
		case "contains":
			return boolColl(strings.Contains(s, a)), nil
		case "indexOf":
			return []item{intItem(int64(strings.Index(s, a)))}, nil
		}
		re, err := cachedRegexp(a)
		if err != nil {
			return nil, err
		}
		m, err := re.match(s)
		if err != nil {
			return nil, err
		}
		return boolColl(m), nil
	case "replaceMatches", "replace":
		s, ok, err := singleString()
		if !ok || err != nil {
			return nil, err
		}
		a, _, err := argString(0)
		if err != nil {
			return nil, err
		}
		b, _, err := argString(1)
		if err != nil {
			return nil, err
		}
		if x.name == "replace" {
			return []item{strItem(strings.ReplaceAll(s, a, b))}, nil
		}
		re, err := cachedRegexp(a)
		if err != nil {
			return nil, err
		}
		out, err := re.replace(s, b)
		if err != nil {
			return nil, err
		}
		return []item{strItem(out)}, nil
	case "substring":
		s, ok, err := singleString()
		if !ok || err != nil {
			return nil, err
		}
		r := []rune(s)
		start, sok, err := argInt(0)
		if err != nil || !sok || start < 0 || start >= len(r) {
			return nil, err
		}
		end := len(r)
		if len(x.args) > 1 {
			n, nok, err := argInt(1)
			if err != nil {
				return nil, err
			}
			if nok {
				end = min(len(r), start+max(0, n))
			}
		}
		return []item{strItem(string(r[start:end]))}, nil
	case "lower", "upper", "trim":
		s, ok, err := singleString()
		if !ok || err != nil {
			return nil, err
		}
		switch x.name {
		case "lower":
			s = strings.ToLower(s)
		case "upper":
			s = strings.ToUpper(s)
		default:
			s = strings.TrimSpace(s)
		}
		return []item{strItem(s)}, nil
	case "extension":
		u, ok, err := argString(0)
		if err != nil || !ok {
			return nil, err
		}
		var out []item
		for _, ext := range member(in, "extension") {
			if ext.n.childValue("url") == u {
				out = append(out, ext)
			}
		}
		return out, nil
	case "resolve":
		var out []item
		for _, it := range in {
			ref := ""
			if it.n != nil && it.n.typ == "Reference" {
				ref = it.n.childValue("reference")
			} else if p, ok := prim(it); ok && p.k == kString {
				ref = p.s
			}
			if t := e.c.resolveRef(ref, it.n); t != nil {
				out = append(out, item{n: t})
			}
		}
		return out, nil
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
	case "conformsTo":
		u, ok, err := argString(0)
		if err != nil || !ok {
			return nil, err
		}
		it, ok, err := single()
		if !ok || err != nil || it.n == nil {
			return nil, err
		}
		res, err := e.c.conformsTo(it.n, u, e.pkg)
		if err != nil {
			return nil, err
		}
		return boolColl(res), nil
	case "htmlChecks", "htmlchecks":
		it, ok, err := single()
		if !ok || err != nil {
			return boolColl(false), err
		}
		return boolColl(htmlChecks(it.n)), nil
	case "hasExtension":
		u, _, err := argString(0)
		if err != nil {
			return nil, err
		}
		for _, ext := range member(in, "extension") {
			if u == "" || ext.n.childValue("url") == u {
				return boolColl(true), nil
			}
		}
		return boolColl(false), nil
	case "getValue":
		var out []item
		for _, it := range in {
			if it.n != nil && it.n.hasValue {
				p, _ := prim(it)
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("function %s(): %w", x.name, errUnsupported)
}

var errNotChecked = errors.New("the value set or a code system it uses is not held by the validator")

func itemString(p item) string {
	switch p.k {
	case kInteger:
		return strconv.FormatInt(p.i, 10)
	case kDecimal:
		if p.s != "" {
			return p.s
		}
		return strconv.FormatFloat(p.f, 'f', -1, 64)
	case kBoolean:
		return strconv.FormatBool(p.b)
	case kQuantity:
		return strconv.FormatFloat(p.f, 'f', -1, 64) + " '" + p.s + "'"
	}
	return p.s
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

// Regexes of expressions (matches) and profiles are compiled once, process wide. Go's RE2
// engine is used when it accepts the pattern; patterns it cannot run (look-around, as in the
// DK core cpr invariant) fall back to regexp2, a backtracking engine, with a time limit.
var regexCache sync.Map // pattern → *fpRegex

type fpRegex struct {
	re  *regexp.Regexp
	re2 *regexp2.Regexp
}

func cachedRegexp(pattern string) (*fpRegex, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*fpRegex), nil
	}
	r := &fpRegex{}
	var err error
	if r.re, err = regexp.Compile(pattern); err != nil {
		if r.re2, err = regexp2.Compile(pattern, regexp2.None); err != nil {
			return nil, fmt.Errorf("regex %q: %v: %w", pattern, err, errUnsupported)
		}
		r.re2.MatchTimeout = 100 * time.Millisecond
	}
	regexCache.Store(pattern, r)
	return r, nil
}

// match is a partial match, as FHIRPath R4 matches() is (patterns carry ^…$ themselves).
func (r *fpRegex) match(s string) (bool, error) {
	if r.re != nil {
		return r.re.MatchString(s), nil
	}
	ok, err := r.re2.MatchString(s)
	if err != nil {
		return false, fmt.Errorf("regex: %v: %w", err, errUnsupported)
	}
	return ok, nil
}

func (r *fpRegex) replace(s, with string) (string, error) {
	if r.re != nil {
		return r.re.ReplaceAllString(s, with), nil
	}
	out, err := r.re2.Replace(s, with, -1, -1)
	if err != nil {
		return "", fmt.Errorf("regex: %v: %w", err, errUnsupported)
	}
	return out, nil
}

// htmlChecks is the narrative check behind txt-1: a div in the XHTML namespace, with no
// script, form, object or event-handler content.
func htmlChecks(n *node) bool {
	if n == nil || !n.hasValue {
		return false
	}
	s := strings.TrimSpace(n.value)
	if !strings.HasPrefix(s, "<div") || !strings.HasSuffix(s, "</div>") && !strings.HasSuffix(s, "/>") {
		return false
	}
	if !strings.Contains(s[:strings.IndexByte(s, '>')+1], "http://www.w3.org/1999/xhtml") {
		return false
	}
	low := strings.ToLower(s)
	for _, bad := range []string{"<script", "<form", "<object", "<embed", "<iframe", "<applet", "<base", "<link", "<meta", "<style", "javascript:"} {
		if strings.Contains(low, bad) {
			return false
		}
	}
	return !onAttr.MatchString(low)
}

var onAttr = regexp.MustCompile(`<[^>]*\son[a-z]+\s*=`)
