package hl7

import "testing"

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
	}{
		{"PID-5", Path{Segment: "PID", Field: 5}},
		{"PID-5.1", Path{Segment: "PID", Field: 5, Component: 1}},
		{"PID-5.1.2", Path{Segment: "PID", Field: 5, Component: 1, Subcomponent: 2}},
		{"PID-3[2].1", Path{Segment: "PID", Field: 3, FieldRep: 2, Component: 1}},
		{"PID-3[2]", Path{Segment: "PID", Field: 3, FieldRep: 2}},
		{"OBX[2]-5", Path{Segment: "OBX", SegmentRep: 2, Field: 5}},
		{"OBX[12]-5[3].2.1", Path{Segment: "OBX", SegmentRep: 12, Field: 5, FieldRep: 3, Component: 2, Subcomponent: 1}},
		{"MSH-9.2", Path{Segment: "MSH", Field: 9, Component: 2}},
		{"ZU1-4", Path{Segment: "ZU1", Field: 4}},
		{"PID-99999", Path{Segment: "PID", Field: 99999}},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.in {
			t.Errorf("ParsePath(%q).String() = %q", tt.in, s)
		}
	}
	if s := (Path{Segment: "PID", Field: 5, Subcomponent: 2}).String(); s != "PID-5.1.2" {
		t.Errorf("String() of a path with a subcomponent but no component = %q", s)
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `path "": expected a 3-character segment name (A-Z, 0-9) at the start`},
		{"PI", `path "PI": expected a 3-character segment name (A-Z, 0-9) at the start`},
		{"pid-5", `path "pid-5": expected a 3-character segment name (A-Z, 0-9) at the start`},
		{"PID", `path "PID": expected "-" and a field number after the segment name`},
		{"PID[2]", `path "PID[2]": expected "-" and a field number after the segment name`},
		{"PID-x", `path "PID-x": expected a field number after "-"`},
		{"PID-", `path "PID-": expected a field number after "-"`},
		{"PID.5.1", `path "PID.5.1": expected "-" after "PID", got ".5.1"`},
		{"PIDX-5", `path "PIDX-5": expected "-" after "PID", got "X-5"`},
		{"PID-5-1", `path "PID-5-1": unexpected "-1" after "PID-5"`},
		{"PID-0", `path "PID-0": field number must be 1 or more (indexes are 1-based)`},
		{"PID-3[0]", `path "PID-3[0]": field repetition number must be 1 or more (indexes are 1-based)`},
		{"OBX[0]-5", `path "OBX[0]-5": segment repetition number must be 1 or more (indexes are 1-based)`},
		{"PID-5.0", `path "PID-5.0": component number must be 1 or more (indexes are 1-based)`},
		{"PID-5.1.0", `path "PID-5.1.0": subcomponent number must be 1 or more (indexes are 1-based)`},
		{"PID-5.", `path "PID-5.": expected a component number after "."`},
		{"PID-5.1.", `path "PID-5.1.": expected a subcomponent number after "."`},
		{"PID-5.1.2.3", `path "PID-5.1.2.3": unexpected ".3" after "PID-5.1.2"`},
		{"PID-3[2", `path "PID-3[2": expected "]" after the field repetition number`},
		{"PID-3[]", `path "PID-3[]": expected a field repetition number after "["`},
		{"PID-3[x]", `path "PID-3[x]": expected a field repetition number after "["`},
		{"PID-5.1[2]", `path "PID-5.1[2]": unexpected "[2]" after "PID-5.1"`},
		{"PID-100000", `path "PID-100000": field number 100000 is too large (max 99999)`},
		{"PID-5 ", `path "PID-5 ": unexpected " " after "PID-5"`},
	}
	for _, tt := range tests {
		_, err := ParsePath(tt.in)
		if err == nil {
			t.Errorf("ParsePath(%q) succeeded", tt.in)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParsePath(%q):\n got %s\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestMustParsePathPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParsePath(\"PID\") did not panic")
		}
	}()
	MustParsePath("PID")
}

func TestSetPathRejectsInvalidPaths(t *testing.T) {
	m := mustParse(t, lines(`MSH|^~\&|A`, `PID|1`))
	tests := []struct {
		p    Path
		want string
	}{
		{Path{Segment: "pid", Field: 1}, `path "pid-1": expected a 3-character segment name (A-Z, 0-9), got "pid"`},
		{Path{Segment: "PID"}, `path "PID-0": expected a field number of 1 or more`},
		{Path{Segment: "PID", Field: 1, Component: -1}, `path "PID-1": expected indexes between 1 and 99999`},
		{Path{Segment: "PID", Field: 1, FieldRep: maxIndex + 1}, `path "PID-1[100000]": expected indexes between 1 and 99999`},
	}
	for _, tt := range tests {
		if err := m.SetPath(tt.p, "x"); err == nil || err.Error() != tt.want {
			t.Errorf("SetPath(%+v) error = %v, want %s", tt.p, err, tt.want)
		}
		if got := m.GetPath(tt.p); got != "" {
			t.Errorf("GetPath(%+v) = %q, want empty", tt.p, got)
		}
	}
}
