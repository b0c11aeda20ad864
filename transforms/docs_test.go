package transforms

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/expr-lang/expr/conf"
)

// scriptNames are the names a script sees: Env's functions and values, and the library's
// functions (lookup).
func scriptNames(t *testing.T) (funcs, values []string) {
	t.Helper()
	et := reflect.TypeOf(Env{})
	for i := 0; i < et.NumField(); i++ {
		f := et.Field(i)
		tag := f.Tag.Get("expr")
		if tag == "" || !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Func {
			funcs = append(funcs, tag)
		} else {
			values = append(values, tag)
		}
	}
	c := conf.CreateNew()
	for _, o := range emptyLibrary.options(true) {
		o(c)
	}
	for name := range c.Functions {
		funcs = append(funcs, name)
	}
	return funcs, values
}

func TestEveryFunctionAScriptMayCallIsDocumented(t *testing.T) {
	funcs, values := scriptNames(t)
	documented := map[string]bool{}
	for _, h := range Helpers {
		documented[h.Name] = true
		if h.Signature == "" || h.Description == "" || h.Example == "" {
			t.Errorf("helper %s needs a signature, a description and an example", h.Name)
		}
		if !strings.HasPrefix(h.Signature, h.Name+"(") {
			t.Errorf("helper %s: signature %q should start with %s(", h.Name, h.Signature, h.Name)
		}
	}
	for _, f := range funcs {
		if !documented[f] {
			t.Errorf("scripts may call %s() but transforms.Helpers (transforms/docs.go) has no entry for it", f)
		}
	}
	for _, h := range Helpers {
		if !slices.Contains(funcs, h.Name) {
			t.Errorf("transforms.Helpers documents %s(), which scripts cannot call", h.Name)
		}
	}
	var vars []string
	for _, v := range Variables {
		vars = append(vars, v.Name)
	}
	for _, v := range values {
		if !slices.Contains(vars, v) {
			t.Errorf("scripts may read %s but transforms.Variables has no entry for it", v)
		}
	}
	for _, v := range vars {
		if !slices.Contains(values, v) {
			t.Errorf("transforms.Variables documents %s, which scripts cannot read", v)
		}
	}
}

func TestEveryDocumentedExampleCompiles(t *testing.T) {
	lib := NewLibrary()
	lib.AddTable("wards", map[string]string{"A1": "Acute Medicine"})
	for _, h := range Helpers {
		kind := Transform
		if h.Name == "response" {
			kind = Response
		}
		s := Script{Source: h.Example, File: "docs", Line: 1, Path: h.Name}
		if _, err := CompileWith(s, kind, nil, lib); err != nil {
			t.Errorf("the example of %s, %s, does not compile: %v", h.Name, h.Example, err)
		}
	}
	for _, v := range Variables {
		s := Script{Source: v.Example, File: "docs", Line: 1, Path: v.Name}
		if _, err := CompileWith(s, Filter, nil, lib); err != nil {
			t.Errorf("the example of %s, %s, does not compile: %v", v.Name, v.Example, err)
		}
	}
}
