package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/transforms"
)

// funcHeader is a functions: key: a name and its parameters, fullName(family, given).
var funcHeader = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)\s*$`)

var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// buildFunctions compiles the top-level functions: block into lib, in the order written:
//
//	functions:
//	  mrn(): 'get("PID-3.1")'
//	  fullName(family, given): 'family + ", " + given'
//
// Each body is an expression over its parameters and everything a script sees (get,
// lookup, the functions above it). A function is compiled once, here, and callable from
// every channel's filter, transform and response steps.
func buildFunctions(root *Node, data []byte, lib *transforms.Library) {
	m := root.Map("functions", false)
	if m == nil {
		return
	}
	m.Path = "functions"
	type decl struct {
		name   string
		params []string
		key    *yaml.Node
		body   *yaml.Node
	}
	var decls []decl
	lines := map[string]int{}
	for i := 0; i+1 < len(m.Y.Content); i += 2 {
		k, v := m.Y.Content[i], deref(m.Y.Content[i+1])
		name, params, err := parseFuncHeader(k.Value)
		if err == nil {
			if prev, dup := lines[name]; dup {
				err = fmt.Errorf("function %s is already defined at line %d", name, prev)
			}
		}
		if err != nil {
			m.ErrorAt(k, "functions."+k.Value, "%v", err)
			continue
		}
		lines[name] = k.Line
		lib.Declare(name, k.Line)
		decls = append(decls, decl{name, params, k, v})
	}
	for _, d := range decls {
		path := "functions." + d.name
		if d.body.Kind != yaml.ScalarNode || strings.TrimSpace(d.body.Value) == "" {
			m.ErrorAt(d.body, path, "expected the function's body, an expression (a quoted text line), got %s", describe(d.body))
			continue
		}
		s := scriptAt(m, data, d.body, path)
		if _, err := lib.AddFunction(d.name, d.params, s); err != nil {
			var ce *transforms.CompileError
			if errors.As(err, &ce) {
				*m.errs = append(*m.errs, ConfigError{File: m.File, Line: ce.Line, Path: path, Msg: ce.Msg})
			} else {
				m.ErrorAt(d.body, path, "%v", err)
			}
		}
	}
}

// parseFuncHeader reads "fullName(family, given)".
func parseFuncHeader(key string) (string, []string, error) {
	sub := funcHeader.FindStringSubmatch(key)
	if sub == nil {
		return "", nil, fmt.Errorf("expected a function's name and parameters, such as mrn() or fullName(family, given), got %q", key)
	}
	name := sub[1]
	if why := transforms.ReservedName(name); why != "" {
		return "", nil, fmt.Errorf("function %s: %s: choose another name", name, why)
	}
	var params []string
	if strings.TrimSpace(sub[2]) == "" {
		return name, nil, nil
	}
	for _, p := range strings.Split(sub[2], ",") {
		p = strings.TrimSpace(p)
		switch {
		case !identPattern.MatchString(p):
			return "", nil, fmt.Errorf("function %s: parameter %q is not a name (letters, digits, _)", name, p)
		case transforms.ReservedName(p) != "":
			return "", nil, fmt.Errorf("function %s: parameter %s: %s", name, p, transforms.ReservedName(p))
		}
		for _, q := range params {
			if q == p {
				return "", nil, fmt.Errorf("function %s: parameter %s is named twice", name, p)
			}
		}
		params = append(params, p)
	}
	return name, params, nil
}
