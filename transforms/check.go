package transforms

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"

	"junction/hl7"
)

// checker walks a script's syntax tree for mistakes expr's own checker cannot see (see
// Library.check); the first one found is kept, with its location.
type checker struct {
	l        *Library
	kind     Kind
	hl7Paths bool
	self     string
	err      *file.Error
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
		if lit, ok := firstString(args); ok && c.hl7Paths {
			if _, err := hl7.ParsePath(lit.Value); err != nil {
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
