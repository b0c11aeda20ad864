package transforms

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// checker walks a script's syntax tree for mistakes expr's own checker cannot see (see
// Library.check); the first one found is kept, with its location.
type checker struct {
	l     *Library
	kind  Kind
	paths pathCheck
	self  string
	err   *file.Error
}

// pathCheck says which literal paths of get, set and setRaw are checked as HL7v2 paths.
type pathCheck int

const (
	// noPaths: the channel takes no HL7v2 (FHIR, CSV): its paths are FHIR element paths.
	noPaths pathCheck = iota
	// hl7LikePaths: the content may be HL7v2 or not (a channel taking several data types,
	// a destination's steps, a function): paths written as HL7v2 ones (SEG-N) are checked,
	// others are taken for FHIR element paths.
	hl7LikePaths
	// allPaths: the channel takes HL7v2 only: every literal path is an HL7v2 path.
	allPaths
)

// pathCheckFor is what a channel taking dataTypes (nil: any) has checked.
func pathCheckFor(dataTypes []string) pathCheck {
	if dataTypes == nil {
		return hl7LikePaths
	}
	hl7v2 := false
	for _, t := range dataTypes {
		hl7v2 = hl7v2 || t == HL7v2
	}
	switch {
	case !hl7v2:
		return noPaths
	case len(dataTypes) == 1:
		return allPaths
	}
	return hl7LikePaths
}

// checks reports whether a literal path is checked as an HL7v2 path.
func (pc pathCheck) checks(path string) bool {
	return pc == allPaths || pc == hl7LikePaths && looksLikeHL7Path(path)
}

func (c *checker) run(source string) error {
	tree, err := parser.Parse(source)
	if err != nil {
		return err
	}
	ast.Walk(&tree.Node, c)
	if c.err != nil {
		return c.err.Bind(file.NewSource(source))
	}
	return nil
}

func (c *checker) fail(n ast.Node, format string, args ...any) {
	if c.err == nil {
		c.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

func (c *checker) Visit(node *ast.Node) {
	if c.err != nil {
		return
	}
	var name string
	var args []ast.Node
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			name, args = id.Value, n.Arguments
		}
	case *ast.BuiltinNode: // without the env, the parser takes get() for expr's built-in
		name, args = n.Name, n.Arguments
	}
	if name == "" {
		return
	}
	switch name {
	case "get", "set", "setRaw":
		if lit, ok := firstString(args); ok && c.paths.checks(lit.Value) {
			if err := checkHL7Path(lit.Value); err != nil {
				c.fail(lit, "%s", err.Error())
			}
		}
	case "lookup":
		c.checkLookup(*node, args)
	case "response":
		if c.kind != Response {
			c.fail(*node, "response() is the destination's response: use it in a destination's response steps")
		}
	default:
		c.checkCall(*node, name, args)
	}
}

func firstString(args []ast.Node) (*ast.StringNode, bool) {
	if len(args) == 0 {
		return nil, false
	}
	lit, ok := args[0].(*ast.StringNode)
	return lit, ok
}

func (c *checker) checkLookup(n ast.Node, args []ast.Node) {
	if len(args) < 2 || len(args) > 3 {
		c.fail(n, "lookup takes a table name, a key and optionally a default: lookup(\"table\", key) or lookup(\"table\", key, \"default\"), got %d arguments", len(args))
		return
	}
	lit, ok := firstString(args)
	if !ok || c.l == nil {
		return
	}
	if _, ok := c.l.tables[lit.Value]; !ok {
		c.fail(lit, "unknown lookup table %q (%s)", lit.Value, c.l.tableNames())
	}
}

// checkCall checks a call of a library function: its number of arguments, and that it is
// defined above the function calling it.
func (c *checker) checkCall(n ast.Node, name string, args []ast.Node) {
	if c.l == nil {
		return
	}
	if name == c.self && c.self != "" {
		c.fail(n, "function %s calls itself: functions may not be recursive", name)
		return
	}
	f, ok := c.l.funcs[name]
	if !ok {
		if line, declared := c.l.declared[name]; declared && c.self != "" {
			c.fail(n, "function %s is defined below (line %d): a function may call only the functions above it", name, line)
		}
		return
	}
	given := len(args)
	if given > 0 {
		if id, ok := args[0].(*ast.IdentifierNode); ok && id.Value == "$env" {
			given-- // passed by envPassing already
		}
	}
	if given != len(f.Params) {
		c.fail(n, "function %s takes %d argument%s (%s), got %d", name, len(f.Params), plural(len(f.Params)), strings.Join(f.Params, ", "), given)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// checkSetValues finds, in a compiled script's typed tree, a set() whose value expr's
// type checker knows cannot be a field's: a map or a list (set writes text into an HL7v2
// field; a FHIR element may take them, so only HL7v2 paths are checked). Values of unknown
// type (get's, a function's) are left for run time.
func checkSetValues(source string, tree ast.Node, paths pathCheck) error {
	if paths == noPaths {
		return nil
	}
	v := &setValueCheck{paths: paths}
	ast.Walk(&tree, v)
	if v.err != nil {
		return v.err.Bind(file.NewSource(source))
	}
	return nil
}

type setValueCheck struct {
	paths pathCheck
	err   *file.Error
}

func (v *setValueCheck) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || v.err != nil || len(call.Arguments) != 2 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "set" {
		return
	}
	lit, isLit := call.Arguments[0].(*ast.StringNode)
	if v.paths != allPaths && (!isLit || !looksLikeHL7Path(lit.Value)) {
		return
	}
	what := notFieldValue(call.Arguments[1].Type())
	if what == "" {
		return
	}
	path := "an HL7v2 path"
	if isLit {
		path = fmt.Sprintf("%q", lit.Value)
	}
	v.err = &file.Error{Location: call.Arguments[1].Location(), Message: fmt.Sprintf(
		"set(%s, …) is given %s: an HL7v2 field takes text, a number, a bool or a time (for a list, set each repetition: PID-3[2].1; join(list, \"~\") for text)", path, what)}
}

// notFieldValue names a value type that cannot be written into a field ("" when it can,
// or when the type is not known before run time).
func notFieldValue(t reflect.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind() {
	case reflect.Map:
		return "a map"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Func:
		return "a function"
	case reflect.Struct:
		if t != reflect.TypeOf(time.Time{}) {
			return "a " + t.String()
		}
	}
	return ""
}
