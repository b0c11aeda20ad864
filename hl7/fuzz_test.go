package hl7

import (
	"bytes"
	"os"
	"testing"
)

const oruR01 = "MSH|^~\\&|LAB|RX1|JUNCTION|RX1|20240213150102||ORU^R01^ORU_R01|LAB-778812|P|2.5|||AL|NE|GBR|UNICODE UTF-8\r" +
	"PID|1||0000000000^^^NHS^NH~K123456^^^RX1^MR||FERNÁNDEZ^María^^^Ms||19850317|F\r" +
	"ORC|RE|ORD-1|LAB-1||CM\r" +
	"OBR|1|ORD-1|LAB-1|26604007^Full blood count^SCT|||20240213140000|||||||||G8765432^PATEL^ANIL^^^DR||||||20240213150000|||F\r" +
	"OBX|1|NM|718-7^Haemoglobin^LN||131|g/L^gram per litre^UCUM|115-165|N|||F\r" +
	"OBX|2|NM|6690-2^White cell count^LN||11.2|10*9/L|4.0-11.0|H|||F\r" +
	"OBX|3|FT|COMMENT^Comment^L||Mild leucocytosis.\\.br\\Repeat in 2 weeks \\T\\ review.~Second line||||||F\r" +
	"NTE|1|L|Sample received at 14:02; analysed by Fern\\XC3A1\\ndez\r"

// fuzzSeeds are realistic messages plus the awkward shapes Parse accepts.
func fuzzSeeds(f *testing.F) [][]byte {
	adt, err := os.ReadFile("testdata/adt_a01.hl7")
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		adt,
		[]byte(oruR01),
		bytes.ReplaceAll(adt, []byte("\r"), []byte("\r\n")),
		append(append([]byte{0x0B}, oruR01...), 0x1C, 0x0D),
		[]byte("MSH#$*@!#LAB#RX1#####ORU$R01#1#P#2.4\rPID#1##A$B*C##O@S@BRIEN\r"),
		[]byte("MSH|^~\\&#|A|B||||ADT^A01|1|P|2.7\rNTE|1||a\\P\\b#\r"),
		[]byte("MSH|^~\\&|A|B||||ACK|1|P|2.4\rMSA|AE|X|{\"a\":\"b\\E\\\"\"}\r"),
		[]byte("\xEF\xBB\xBFMSH|^~\\&\n\nZZZ\n  \n"),
		[]byte(manyOBX(40)), // long enough for the segment index
	}
}

var fuzzPaths = []string{
	"MSH-1", "MSH-2", "MSH-3", "MSH-9.1", "MSH-9.2", "MSH-10", "MSH-12",
	"PID-3", "PID-3[2].1", "PID-5.1.2", "OBX[2]-5", "OBX[9]-5[3].2.1", "ZZZ-99", "NTE-3",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error is %T, want *ParseError: %v", err, err)
			}
			return
		}
		out := m.Bytes()
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("Bytes() does not re-parse: %v\n%q", err, out)
		}
		if out2 := m2.Bytes(); !bytes.Equal(out, out2) {
			t.Fatalf("Bytes() not stable:\n%q\n%q", out, out2)
		}
		if m2.Delims() != m.Delims() {
			t.Fatalf("delimiters changed: %+v -> %+v", m.Delims(), m2.Delims())
		}
		for _, p := range fuzzPaths {
			if _, err := m.Get(p); err != nil {
				t.Fatal(err)
			}
		}
		occ := map[string]int{}
		for i, name := range m.Segments() {
			occ[name]++
			seg := m.SegmentAt(i)
			for _, p := range []Path{{Segment: name, Field: 1}, {Segment: name, Field: 2, Component: 2}, {Segment: name, Field: 3, FieldRep: 2, Component: 1, Subcomponent: 2}} {
				if m.GetPath(p) != m2.GetPath(p) {
					t.Fatalf("%s differs after a round trip", p)
				}
				p.SegmentRep = occ[name]
				if got, want := seg.Get(p.Field, p.FieldRep, p.Component, p.Subcomponent), m.GetPath(p); got != want {
					t.Fatalf("%s: Segment.Get = %q, GetPath = %q", p, got, want)
				}
				if got, want := seg.RepCount(p.Field), m.RepCount(p); got != want {
					t.Fatalf("%s: Segment.RepCount = %d, RepCount = %d", p, got, want)
				}
			}
		}
		m.Header()
	})
}

// FuzzSetGet checks that Set(p, v) then Get(p) returns v for any value and any
// p, that the message still re-parses to the same value, and that no other
// segment changed.
func FuzzSetGet(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i), uint8(1), uint8(5), uint8(0), uint8(1), uint8(0), "Fernández^O'Brien")
	}
	f.Add([]byte(oruR01), uint8(4), uint8(3), uint8(5), uint8(2), uint8(2), uint8(2), "a\\b|c~d&e\r\nf")
	f.Add([]byte(oruR01), uint8(200), uint8(0), uint8(29), uint8(3), uint8(4), uint8(3), `""`)
	f.Add([]byte(oruR01), uint8(0), uint8(0), uint8(2), uint8(0), uint8(0), uint8(0), "")
	f.Fuzz(func(t *testing.T, raw []byte, seg, segRep, field, fieldRep, comp, sub uint8, value string) {
		m, err := Parse(raw)
		if err != nil {
			return
		}
		names := m.Segments()
		p := Path{Segment: "ZZZ"}
		if i := int(seg) % (len(names) + 1); i < len(names) {
			p.Segment = names[i]
		}
		count := m.Count(p.Segment)
		p.SegmentRep = int(segRep) % (count + 2) // 0 .. count+1
		p.Field = 1 + int(field)%30
		if p.Segment == "MSH" {
			p.SegmentRep = min(p.SegmentRep, 1)
			p.Field = max(p.Field, 3)
		}
		p.FieldRep = int(fieldRep) % 4
		if p.Component = int(comp) % 5; p.Component > 0 {
			p.Subcomponent = int(sub) % 4
		}
		target, _ := m.find(p.Segment, max(p.SegmentRep, 1))
		before := append([]string(nil), m.segs...)

		if err := m.SetPath(p, value); err != nil {
			t.Fatalf("SetPath(%s, %q): %v", p, value, err)
		}
		if got := m.GetPath(p); got != value {
			t.Fatalf("GetPath(%s) = %q after setting %q\n%q", p, got, value, m.Bytes())
		}
		for i, s := range before {
			if i != target && m.segs[i] != s {
				t.Fatalf("SetPath(%s) changed segment %d: %q -> %q", p, i+1, s, m.segs[i])
			}
		}
		if len(m.segs) > len(before)+1 {
			t.Fatalf("SetPath(%s) added %d segments", p, len(m.segs)-len(before))
		}
		m2, err := Parse(m.Bytes())
		if err != nil {
			t.Fatalf("message no longer parses after SetPath(%s, %q): %v", p, value, err)
		}
		if got := m2.GetPath(p); got != value {
			t.Fatalf("after a round trip GetPath(%s) = %q, want %q", p, got, value)
		}
	})
}
