package fhir

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// FHIRPath string functions.

// singleString is the one string of the input: (value, present, error). A single value that
// is not a string is an error in strict evaluation and absent otherwise.
func (e *fpEnv) singleString(x *fpNode, in []item) (string, bool, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return "", false, err
	}
	p, ok := prim(it)
	if !ok || p.k != kString {
		if e.strict {
			return "", false, fmt.Errorf("%s() needs a string, found %s", x.name, systemTypeName(it))
		}
		return "", false, nil
	}
	return p.s, true, nil
}

// strFn wraps a function of the input string and its string arguments: any empty argument
// gives an empty result.
func strFn(f func(s string, args []string) ([]item, error)) fpFunc {
	return func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
		s, ok, err := e.singleString(x, in)
		if err != nil {
			return nil, err
		}
		if !ok {
			// Like the HL7 FHIRPath engine the published invariants were written against
			// (ref-1: reference.startsWith('#').not() or …), these answer false on an
			// empty input rather than empty, unless evaluation is strict.
			if len(in) == 0 && !e.strict && lenientFalse[x.name] {
				return boolColl(false), nil
			}
			return nil, nil
		}
		args := make([]string, len(x.args))
		for i := range x.args {
			a, aok, err := e.argString(x, focus, i)
			if err != nil || !aok {
				return nil, err
			}
			args[i] = a
		}
		return f(s, args)
	}
}

var lenientFalse = map[string]bool{"startsWith": true, "endsWith": true, "contains": true, "matches": true}

func fpStringFuncs() map[string]fpFunc {
	return map[string]fpFunc{
		"startsWith": strFn(func(s string, a []string) ([]item, error) { return boolColl(strings.HasPrefix(s, a[0])), nil }),
		"endsWith":   strFn(func(s string, a []string) ([]item, error) { return boolColl(strings.HasSuffix(s, a[0])), nil }),
		"contains":   strFn(func(s string, a []string) ([]item, error) { return boolColl(strings.Contains(s, a[0])), nil }),
		"indexOf": strFn(func(s string, a []string) ([]item, error) {
			return []item{intItem(int64(runeIndex(s, strings.Index(s, a[0]))))}, nil
		}),
		"lastIndexOf": strFn(func(s string, a []string) ([]item, error) {
			return []item{intItem(int64(runeIndex(s, strings.LastIndex(s, a[0]))))}, nil
		}),
		"matches":     strFn(func(s string, a []string) ([]item, error) { return regexMatch(s, a[0], false) }),
		"matchesFull": strFn(func(s string, a []string) ([]item, error) { return regexMatch(s, a[0], true) }),
		"replace": strFn(func(s string, a []string) ([]item, error) {
			return []item{strItem(strings.ReplaceAll(s, a[0], a[1]))}, nil
		}),
		"replaceMatches": strFn(func(s string, a []string) ([]item, error) {
			if a[0] == "" {
				return []item{strItem(s)}, nil
			}
			re, err := cachedRegexp(a[0])
			if err != nil {
				return nil, err
			}
			out, err := re.replace(s, a[1])
			return []item{strItem(out)}, err
		}),
		"length": strFn(func(s string, a []string) ([]item, error) { return []item{intItem(int64(len([]rune(s))))}, nil }),
		"upper":  strFn(func(s string, a []string) ([]item, error) { return []item{strItem(strings.ToUpper(s))}, nil }),
		"lower":  strFn(func(s string, a []string) ([]item, error) { return []item{strItem(strings.ToLower(s))}, nil }),
		"trim":   strFn(func(s string, a []string) ([]item, error) { return []item{strItem(strings.TrimSpace(s))}, nil }),
		"toChars": strFn(func(s string, a []string) ([]item, error) {
			var out []item
			for _, r := range s {
				out = append(out, strItem(string(r)))
			}
			return out, nil
		}),
		"split": strFn(func(s string, a []string) ([]item, error) {
			var out []item
			for _, p := range strings.Split(s, a[0]) {
				out = append(out, strItem(p))
			}
			return out, nil
		}),
		"encode": strFn(func(s string, a []string) ([]item, error) { return encode(s, a[0]) }),
		"decode": strFn(func(s string, a []string) ([]item, error) { return decode(s, a[0]) }),
		"escape": strFn(func(s string, a []string) ([]item, error) { return escape(s, a[0], true) }),
		"unescape": strFn(func(s string, a []string) ([]item, error) {
			return escape(s, a[0], false)
		}),
		"substring": substring,
		"join":      join,
	}
}

// runeIndex turns a byte offset into a character offset (-1 stays -1).
func runeIndex(s string, i int) int {
	if i <= 0 {
		return i
	}
	return len([]rune(s[:i]))
}

func substring(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	s, ok, err := e.singleString(x, in)
	if !ok || err != nil {
		return nil, err
	}
	r := []rune(s)
	start, sok, err := e.argInt(x, focus, 0)
	if err != nil || !sok || start < 0 || start >= len(r) {
		return nil, err
	}
	end := len(r)
	if len(x.args) > 1 {
		n, nok, err := e.argInt(x, focus, 1)
		if err != nil {
			return nil, err
		}
		if nok {
			end = min(len(r), start+max(0, n))
		}
	}
	return []item{strItem(string(r[start:end]))}, nil
}

func join(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	sep, _, err := e.argString(x, focus, 0)
	if err != nil {
		return nil, err
	}
	parts := make([]string, 0, len(in))
	for _, it := range in {
		p, ok := prim(it)
		if !ok || p.k != kString {
			return nil, fmt.Errorf("join() needs strings")
		}
		parts = append(parts, p.s)
	}
	return []item{strItem(strings.Join(parts, sep))}, nil
}

func regexMatch(s, pattern string, full bool) ([]item, error) {
	if full {
		pattern = "^(?:" + pattern + ")$"
	}
	re, err := cachedRegexp(pattern)
	if err != nil {
		return nil, err
	}
	m, err := re.match(s)
	if err != nil {
		return nil, err
	}
	return boolColl(m), nil
}

func encode(s, format string) ([]item, error) {
	switch format {
	case "base64":
		return []item{strItem(base64.StdEncoding.EncodeToString([]byte(s)))}, nil
	case "urlbase64":
		return []item{strItem(base64.URLEncoding.EncodeToString([]byte(s)))}, nil
	case "hex":
		return []item{strItem(hex.EncodeToString([]byte(s)))}, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", format)
}

func decode(s, format string) ([]item, error) {
	var b []byte
	var err error
	switch format {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(s)
	case "urlbase64":
		b, err = base64.URLEncoding.DecodeString(s)
	case "hex":
		b, err = hex.DecodeString(s)
	default:
		return nil, fmt.Errorf("unknown encoding %q", format)
	}
	if err != nil {
		return nil, nil
	}
	return []item{strItem(string(b))}, nil
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escape(s, format string, esc bool) ([]item, error) {
	switch {
	case format == "html" && esc:
		return []item{strItem(htmlEscaper.Replace(s))}, nil
	case format == "html":
		return []item{strItem(html.UnescapeString(s))}, nil
	case format == "json" && esc:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		out := strings.TrimSuffix(b.String(), "\n")
		return []item{strItem(out[1 : len(out)-1])}, nil
	case format == "json":
		out, ok := unescapeJSON(s)
		if !ok {
			return nil, nil
		}
		return []item{strItem(out)}, nil
	}
	return nil, fmt.Errorf("unknown escape format %q", format)
}

// unescapeJSON undoes the backslash escapes of a JSON string's content; other characters,
// quotes included, stay as they are (as in the HL7 engine).
func unescapeJSON(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		end := i + 2
		if i+1 < len(s) && s[i+1] == 'u' {
			end = i + 6
		}
		if end > len(s) {
			return "", false
		}
		var r string
		if err := json.Unmarshal([]byte(`"`+s[i:end]+`"`), &r); err != nil {
			return "", false
		}
		b.WriteString(r)
		i = end - 1
	}
	return b.String(), true
}

// Regexes of expressions (matches) and profiles are compiled once, process wide, in
// single-line mode (. matches a newline). Go's RE2 engine is used when it accepts the
// pattern; patterns it cannot run (look-around, as in the DK core cpr invariant) fall back
// to regexp2, a backtracking engine, with a time limit.
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
	if r.re, err = regexp.Compile("(?s)" + pattern); err != nil {
		if r.re2, err = regexp2.Compile(pattern, regexp2.Singleline); err != nil {
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
