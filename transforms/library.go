package transforms

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Library is a configuration's shared code, usable from every channel's scripts: named
// functions (routes.yaml functions:) and key → value tables (lookups:). It is built once
// at load, before the channels' scripts are compiled against it, and only read after.
type Library struct {
	funcs    map[string]*Func
	declared map[string]int // every function of the file with its line, compiled or not
	tables   map[string]map[string]string
}

// NewLibrary returns an empty library.
func NewLibrary() *Library {
	return &Library{funcs: map[string]*Func{}, declared: map[string]int{}, tables: map[string]map[string]string{}}
}

// Func is a named function compiled from an expression over its parameters.
type Func struct {
	Name   string
	Params []string
	Script Script
	prog   *vm.Program
}

// funcEnv is what a function's body sees: the calling script's env (get, set, body, …
// act on the same message) and its arguments, bound to the parameter names by let.
type funcEnv struct {
	Env
	Args []any `expr:"__args"`
}

var funcVMs = sync.Pool{New: func() any { return new(vm.VM) }}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// Declare names the functions the file defines, so that a function calling one defined
// below it (or itself) is told so rather than that the name is unknown.
func (l *Library) Declare(name string, line int) { l.declared[name] = line }

// ReservedName reports why name cannot name a function or parameter ("" when it can):
// the names of the script environment, expr's built-ins and keywords are taken.
func ReservedName(name string) string {
	if _, ok := envNames()[name]; ok {
		return fmt.Sprintf("%q is a name scripts already have (a helper or variable)", name)
	}
	for _, b := range builtin.Builtins {
		if b.Name == name {
			return fmt.Sprintf("%q is one of expr's built-in functions", name)
		}
	}
	switch name {
	case "let", "if", "else", "in", "not", "and", "or", "matches", "contains", "startsWith",
		"endsWith", "true", "false", "nil":
		return fmt.Sprintf("%q is an expr keyword", name)
	}
	return ""
}

var (
	envNamesOnce sync.Once
	envNameSet   map[string]struct{}
)

func envNames() map[string]struct{} {
	envNamesOnce.Do(func() {
		envNameSet = map[string]struct{}{"lookup": {}, "__args": {}}
		t := reflect.TypeOf(Env{})
		for i := 0; i < t.NumField(); i++ {
			if tag := t.Field(i).Tag.Get("expr"); tag != "" {
				envNameSet[tag] = struct{}{}
			}
		}
	})
	return envNameSet
}

// AddFunction compiles a function's body and adds it. The body may use the helpers, the
// tables and the functions added before it. Errors are *CompileError at the body's line.
func (l *Library) AddFunction(name string, params []string, s Script) (*Func, error) {
	f := &Func{Name: name, Params: params, Script: s}
	var prefix strings.Builder
	for i, p := range params {
		fmt.Fprintf(&prefix, "let %s = __args[%d]; ", p, i)
	}
	// The parameters are bound on a line of their own, so the body's lines keep their
	// numbers (one further down, hence Line-1).
	body := s
	body.Source = prefix.String() + "\n" + s.Source
	body.Line = s.Line - 1
	body.LineStarts = nil
	// response() too: a function may serve response steps.
	err := l.check(body.Source, Response, hl7LikePaths, name)
	if err == nil {
		f.prog, err = l.compile(body.Source, []expr.Option{expr.Env(funcEnv{}), expr.Optimize(true)})
	}
	if err != nil {
		return nil, compileError(body, err)
	}
	l.funcs[name] = f
	return f, nil
}

// compile compiles source with opts and the library: checked first as written, then
// compiled with the env passed to the functions.
func (l *Library) compile(source string, opts []expr.Option) (*vm.Program, error) {
	if len(l.funcs) > 0 {
		if _, err := expr.Compile(source, append(opts[:len(opts):len(opts)], l.options(false)...)...); err != nil {
			return nil, err
		}
	}
	return expr.Compile(source, append(opts, l.options(true)...)...)
}

// AddTable adds a lookup table.
func (l *Library) AddTable(name string, t map[string]string) { l.tables[name] = t }

// Table returns a lookup table, nil when there is none of that name.
func (l *Library) Table(name string) map[string]string { return l.tables[name] }

// options are the expr options giving scripts the library: lookup() and the functions.
// With passEnv unset the functions are declared as written, without the env argument
// envPassing gives them: for checking a script only (expr's checker, run on the tree
// before a patch and again after, misses an unknown name inside the arguments of a
// call once the tree is patched).
func (l *Library) options(passEnv bool) []expr.Option {
	opts := []expr.Option{
		expr.Function("lookup", l.lookup,
			new(func(string, any) string),
			new(func(string, any, any) string)),
	}
	if len(l.funcs) == 0 {
		return opts
	}
	for _, f := range l.funcs {
		in := make([]reflect.Type, len(f.Params))
		if passEnv {
			in = append(in, anyType) // $env first, then the arguments
		}
		for i := range in {
			in[i] = anyType
		}
		out := anyType
		if t := f.prog.Node().Type(); t != nil && t.Kind() != reflect.Interface {
			out = t
		}
		ft := reflect.FuncOf(in, []reflect.Type{out}, false)
		opts = append(opts, expr.Function(f.Name, f.call, reflect.New(ft).Interface()))
	}
	if !passEnv {
		return opts
	}
	return append(opts, expr.Patch(envPassing{l}))
}

// lookup is lookup(table, key) and lookup(table, key, default): the value for key, else
// the default, else "" (as get gives "" for a missing field).
func (l *Library) lookup(params ...any) (any, error) {
	name, _ := params[0].(string)
	t, ok := l.tables[name]
	if !ok {
		return nil, fmt.Errorf("lookup: no table %q (%s)", name, l.tableNames())
	}
	if v, ok := t[toText(params[1])]; ok {
		return v, nil
	}
	if len(params) > 2 {
		return toText(params[2]), nil
	}
	return "", nil
}

func (l *Library) tableNames() string {
	if len(l.tables) == 0 {
		return "routes.yaml has no lookups"
	}
	names := make([]string, 0, len(l.tables))
	for n := range l.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return "tables: " + strings.Join(names, ", ")
}

// call runs the function's body with the caller's env (its first argument, which
// envPassing put there) and the arguments.
func (f *Func) call(params ...any) (any, error) {
	env := &funcEnv{Args: params[1:]}
	switch e := params[0].(type) {
	case *Env:
		env.Env = *e
	case *funcEnv:
		env.Env = e.Env
	}
	v := funcVMs.Get().(*vm.VM)
	out, err := v.Run(f.prog, env)
	funcVMs.Put(v)
	if err != nil {
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg = fe.Message
		}
		return nil, fmt.Errorf("in function %s (%s:%d): %s", f.Name, f.Script.File, f.Script.Line, msg)
	}
	return out, nil
}

// envPassing gives every call of a library function the calling script's env ($env) as
// its first argument, so the function's body reads and writes the same message.
type envPassing struct{ l *Library }

func (p envPassing) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	f, ok := p.l.funcs[id.Value]
	if !ok || len(call.Arguments) != len(f.Params) {
		return
	}
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation(call.Location())
	call.Arguments = append([]ast.Node{env}, call.Arguments...)
}

// check walks a script for what expr cannot check itself: literal HL7 paths (as paths says),
// lookup tables named by literal, the number of arguments given to a library function,
// functions calling themselves or ones defined below them, and response() outside a
// destination's response steps. self is the function being compiled ("" for a script).
func (l *Library) check(source string, kind Kind, paths pathCheck, self string) error {
	c := &checker{l: l, kind: kind, paths: paths, self: self}
	return c.run(source)
}
