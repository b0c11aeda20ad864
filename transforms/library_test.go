package transforms

import (
	"errors"
	"strings"
	"testing"
)

func testLibrary(t *testing.T) *Library {
	t.Helper()
	l := NewLibrary()
	l.AddTable("facilities", map[string]string{"FAC": "Royal Infirmary", "7": "Seven"})
	for _, f := range []struct {
		name   string
		params []string
		src    string
	}{
		{"mrn", nil, `get("PID-3[2].1")`},
		{"fullName", []string{"family", "given"}, `family + ", " + given`},
		{"patient", nil, `fullName(upper(get("PID-5.1")), get("PID-5.2")) + " (" + mrn() + ")"`},
		{"setFacility", []string{"code"}, `set("MSH-4", lookup("facilities", code, "UNKNOWN"))`},
	} {
		if _, err := l.AddFunction(f.name, f.params, Script{Source: f.src, File: "routes.yaml", Line: 3}); err != nil {
			t.Fatalf("AddFunction(%s): %v", f.name, err)
		}
	}
	return l
}

func compileWith(t *testing.T, l *Library, src string, kind Kind) (*Program, error) {
	t.Helper()
	return CompileWith(Script{Source: src, File: "routes.yaml", Line: 20, Path: "channels[0].transform[0]"}, kind, []string{HL7v2}, l)
}

func TestLibraryFunctionsSeeTheCallersMessageAndCallEarlierFunctions(t *testing.T) {
	l := testLibrary(t)
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	p, err := compileWith(t, l, `set("PID-5.1", patient())`, Transform)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Transform(p); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.HL7.Get("PID-5.1"); got != "FERNÁNDEZ, José (MRN123)" {
		t.Errorf("PID-5.1 = %q", got)
	}
	f, err := compileWith(t, l, `fullName("a", "b") == "a, b" && mrn() == "MRN123"`, Filter)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Filter(f); !ok || err != nil {
		t.Errorf("filter = %v, %v", ok, err)
	}
}

func TestLookupGivesTheValueTheDefaultOrEmpty(t *testing.T) {
	l := testLibrary(t)
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	for src, want := range map[string]string{
		`lookup("facilities", "FAC")`:             "Royal Infirmary",
		`lookup("facilities", 7)`:                 "Seven",
		`lookup("facilities", "nope")`:            "",
		`lookup("facilities", "nope", "UNKNOWN")`: "UNKNOWN",
	} {
		p, err := compileWith(t, l, `set("PV1-3", `+src+`)`, Transform)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := s.Transform(p); err != nil {
			t.Fatal(err)
		}
		if got, _ := m.HL7.Get("PV1-3"); got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
	p, _ := compileWith(t, l, `setFacility("FAC")`, Transform)
	if err := s.Transform(p); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.HL7.Get("MSH-4"); got != "Royal Infirmary" {
		t.Errorf("MSH-4 = %q", got)
	}
}

func TestSharedCodeMistakesAreCompileErrorsAtTheirLine(t *testing.T) {
	l := testLibrary(t)
	for src, want := range map[string]string{
		`lookup("facilitis", "x")`:       `unknown lookup table "facilitis" (tables: facilities)`,
		`lookup("facilities")`:           "lookup takes a table name, a key and optionally a default",
		"true &&\n fullName(\"a\")":      "function fullName takes 2 arguments (family, given), got 1",
		`mrn("x")`:                       "function mrn takes 0 arguments (), got 1",
		`response() == ""`:               "response() is the destination's response",
		`nosuch(1)`:                      "unknown name nosuch",
		"fullName(1, 2) + get(\"PID-\")": "PID-",
	} {
		_, err := compileWith(t, l, src, Transform)
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(ce.Msg, want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
			continue
		}
		wantLine := 20 + strings.Count(src, "\n")
		if ce.Line != wantLine {
			t.Errorf("%q: line %d, want %d", src, ce.Line, wantLine)
		}
	}
}

func TestFunctionsMayNotRecurseNorCallFunctionsBelowThem(t *testing.T) {
	l := NewLibrary()
	l.Declare("a", 3)
	l.Declare("b", 4)
	_, err := l.AddFunction("a", nil, Script{Source: `b() + 1`, File: "routes.yaml", Line: 3})
	if err == nil || !strings.Contains(err.Error(), "function b is defined below (line 4)") {
		t.Errorf("calling a later function: %v", err)
	}
	_, err = l.AddFunction("b", []string{"x"}, Script{Source: "x +\n b(x)", File: "routes.yaml", Line: 4})
	var ce *CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "calls itself") || ce.Line != 5 {
		t.Errorf("recursion: %v (line %v)", err, ce)
	}
	if _, err := l.AddFunction("c", []string{"x"}, Script{Source: `x + nope`, File: "routes.yaml", Line: 9}); err == nil || !strings.Contains(err.Error(), "unknown name nope") {
		t.Errorf("unknown name in a body: %v", err)
	}
	if ReservedName("get") == "" || ReservedName("upper") == "" || ReservedName("let") == "" || ReservedName("mrn") != "" {
		t.Error("ReservedName")
	}
}

func TestErrorFailsTheScriptAndResponseSeesTheResponse(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	s.SetResponse([]byte("MSH|...\rMSA|AE|1\r"))
	p, err := compileWith(t, nil, `response() contains "MSA|AE" ? error("downstream NAK") : true`, Response)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Transform(p)
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:20 (channels[0].transform[0]): downstream NAK") {
		t.Errorf("error() = %v", err)
	}
	s.SetResponse([]byte("MSA|AA|1"))
	if err := s.Transform(p); err != nil {
		t.Errorf("AA: %v", err)
	}
}

func TestAFunctionFailingNamesItselfAndTheCallingScript(t *testing.T) {
	l := NewLibrary()
	if _, err := l.AddFunction("need", []string{"v"}, Script{Source: `v == "" ? error("missing value") : v`, File: "routes.yaml", Line: 5}); err != nil {
		t.Fatal(err)
	}
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	p, err := compileWith(t, l, `set("PV1-3", need(get("PV1-44")))`, Transform)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Transform(p)
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:20") || !strings.Contains(err.Error(), "in function need (routes.yaml:5): missing value") {
		t.Errorf("err = %v", err)
	}
}
