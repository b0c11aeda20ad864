package transforms

import (
	"errors"
	"strings"
	"testing"
)

const adt = "MSH|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||ADT^A01|8457239|P|2.4\r" +
	"PID|1||0000000000^^^NHS^NH~MRN123^^^HOSP^MR||Fernández^José||19800101|M\r" +
	"PV1|1|E\r"

func compile(t *testing.T, src string, kind Kind, types ...string) *Program {
	t.Helper()
	if len(types) == 0 {
		types = []string{HL7v2}
	}
	p, err := Compile(Script{Source: src, File: "routes.yaml", Line: 7, Path: "channels[0].transform[0]"}, kind, types)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func parse(t *testing.T, dataType, body string) *Message {
	t.Helper()
	m, err := Parse(dataType, []byte(body), map[string]string{"organisation-code": "r0d"})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestTransformHL7UpperKeepsUTF8(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	ok, err := s.Filter(compile(t, `get("MSH-9.1") in ["ADT", "ORU"] && meta["organisation-code"] == "r0d"`, Filter))
	if err != nil || !ok {
		t.Fatalf("filter = %v, %v", ok, err)
	}
	if err := s.Transform(compile(t, `set("PID-5.1", upper(get("PID-5.1")))`, Transform)); err != nil {
		t.Fatal(err)
	}
	if err := s.Transform(compile(t, `set("PID-3[2].1", "A^B|C")`, Transform)); err != nil {
		t.Fatal(err)
	}
	out, err := m.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(adt, "Fernández^José", "FERNÁNDEZ^José", 1)
	want = strings.Replace(want, "~MRN123^", `~A\S\B\F\C^`, 1)
	if string(out) != want {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
	if got, _ := m.HL7.Get("PID-3[2].1"); got != "A^B|C" {
		t.Errorf("get after set = %q", got)
	}
}

func TestUnchangedMessageHasNoOutput(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "c")
	defer s.Close()
	if ok, err := s.Filter(compile(t, `get("OBX[2]-5") == "" && body contains "PV1"`, Filter)); err != nil || !ok {
		t.Fatalf("filter = %v, %v", ok, err)
	}
	if out, _ := m.Output(); out != nil {
		t.Errorf("output = %q, want nil (unchanged)", out)
	}
}

func TestFHIRResourceGetSet(t *testing.T) {
	m := parse(t, FHIR, `{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}]}`)
	if m.ControlID() != "p1" {
		t.Errorf("control id = %q", m.ControlID())
	}
	s := NewSession(m, "c")
	defer s.Close()
	types := []string{FHIR}
	if ok, err := s.Filter(compile(t, `resource.resourceType == "Patient" && get("Patient.name[0].family") == "Smith"`, Filter, types...)); err != nil || !ok {
		t.Fatalf("filter = %v, %v", ok, err)
	}
	if err := s.Transform(compile(t, `set("name[0].family", upper(get("name[0].family")))`, Transform, types...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Transform(compile(t, `set("meta.source", meta["organisation-code"])`, Transform, types...)); err != nil {
		t.Fatal(err)
	}
	out, _ := m.Output()
	if !strings.Contains(string(out), `"family":"SMITH"`) || !strings.Contains(string(out), `"meta":{"source":"r0d"}`) {
		t.Errorf("output = %s", out)
	}
}

func TestCSVRowsAndSetBody(t *testing.T) {
	m := parse(t, CSV, "nhs,name\n0000000000,Ann\n1111111111,Bob\n")
	s := NewSession(m, "c")
	defer s.Close()
	types := []string{CSV}
	if ok, err := s.Filter(compile(t, `len(rows) == 2 && rows[1].name == "Bob"`, Filter, types...)); err != nil || !ok {
		t.Fatalf("filter = %v, %v", ok, err)
	}
	if err := s.Transform(compile(t, `setBody(map(rows, .nhs))`, Transform, types...)); err != nil {
		t.Fatal(err)
	}
	if out, _ := m.Output(); string(out) != `["0000000000","1111111111"]` {
		t.Errorf("output = %s", out)
	}
	err := s.Transform(compile(t, `set("a", 1)`, Transform, types...))
	if err == nil || !strings.Contains(err.Error(), "use setBody for CSV") {
		t.Errorf("set on CSV: %v", err)
	}
}

func TestRuntimeErrorNamesConfigLine(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "c")
	defer s.Close()
	err := s.Transform(compile(t, `set("PID-5.1", get(get("PID-8")))`, Transform))
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want RuntimeError", err)
	}
	if !strings.HasPrefix(err.Error(), "routes.yaml:7 (channels[0].transform[0]): ") {
		t.Errorf("error = %q", err)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src      string
		kind     Kind
		wantLine int
		want     string
	}{
		{`get("MSH-9.1")`, Filter, 7, "expected bool"},
		{"true &&\n  nope", Filter, 8, "unknown name nope"},
		{`set("PID-x", "a")`, Transform, 7, "PID-x"},
		{`get("PID-0") == ""`, Filter, 7, "PID-0"},
		{`upper(1)`, Transform, 7, ""},
	}
	for _, c := range cases {
		_, err := Compile(Script{Source: c.src, File: "routes.yaml", Line: 7}, c.kind, []string{HL7v2})
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%q: err = %v, want CompileError", c.src, err)
			continue
		}
		if ce.Line != c.wantLine || !strings.Contains(ce.Msg, c.want) || strings.Contains(ce.Msg, "\n") {
			t.Errorf("%q: line %d msg %q; want line %d containing %q on one line", c.src, ce.Line, ce.Msg, c.wantLine, c.want)
		}
	}
	// With FHIR also accepted, a path is not an HL7 path and is checked at run time.
	if _, err := Compile(Script{Source: `get("name[0].family") == ""`}, Filter, DataTypes); err != nil {
		t.Errorf("FHIR-style path refused: %v", err)
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	cases := []struct{ dataType, body, want string }{
		{FHIR, "{\n  \"resourceType\": \"Patient\",\n  \"id\": x\n}", "FHIR: line 3, col 9: invalid JSON"},
		{FHIR, `{"resourceType":"Patient"`, "unexpected end of input"},
		{FHIR, `[1,2]`, "expected a JSON object"},
		{FHIR, `{"id":"x"}`, `"resourceType"`},
		{FHIR, `{"resourceType":"Patient"} {}`, "unexpected content after the JSON value"},
		{CSV, "a,b\n1,2,3\n", "CSV: line 2"},
		{CSV, "", "expected a header row"},
		{CSV, "a,a\n1,2\n", `"a" appears twice`},
		{HL7v2, "PID|1\r", `Hl7v2: segment 1: expected a message starting with "MSH"`},
		{HL7v2, "MSH|^~\\&|A\r\xff\xfe", "not valid UTF-8"},
		{"XML", "<a/>", "unsupported data type"},
	}
	for _, c := range cases {
		_, err := Parse(c.dataType, []byte(c.body), nil)
		var ce *ContentError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s, %q) = %v, want ContentError containing %q", c.dataType, c.body, err, c.want)
		}
	}
}

func BenchmarkFilterTransformADT(b *testing.B) {
	f, _ := Compile(Script{Source: `get("MSH-9.1") in ["ADT", "ORU"]`}, Filter, []string{HL7v2})
	tr, _ := Compile(Script{Source: `set("PID-5.1", upper(get("PID-5.1")))`}, Transform, []string{HL7v2})
	raw := []byte(adt)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(HL7v2, raw, nil)
		if err != nil {
			b.Fatal(err)
		}
		s := NewSession(m, "c")
		if ok, err := s.Filter(f); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := s.Transform(tr); err != nil {
			b.Fatal(err)
		}
		s.Close()
		if out, _ := m.Output(); out == nil {
			b.Fatal("no output")
		}
	}
}
