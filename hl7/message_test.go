package hl7

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func readADT(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustParse(t testing.TB, raw string) *Message {
	t.Helper()
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

// lines joins segments with CR, as Bytes writes them.
func lines(segs ...string) string { return strings.Join(segs, "\r") + "\r" }

func TestGet(t *testing.T) {
	m, err := Parse(readADT(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"MSH-1", "|"},
		{"MSH-2", `^~\&`},
		{"MSH-2.2", ""},
		{"MSH-3", "PAS"},
		{"MSH-7", "20240213144932"},
		{"MSH-8", ""},
		{"MSH-9", "ADT^A01^ADT_A01"}, // structure: raw ER7
		{"MSH-9.1", "ADT"},
		{"MSH-9.2", "A01"},
		{"MSH-9.3", "ADT_A01"},
		{"MSH-9.4", ""},
		{"MSH-10", "MSG-20240213-000123"},
		{"MSH-12", "2.4"},
		{"MSH-19", "EN"},
		{"MSH-20", ""},
		{"MSH[2]-3", ""},
		{"EVN-1", "A01"},
		{"PID-1", "1"},
		{"PID-2", ""},
		{"PID-3", "0000000000^^^NHS^NH"}, // first repetition only
		{"PID-3.1", "0000000000"},
		{"PID-3[1].4", "NHS"},
		{"PID-3[2]", "K123456^^^RX1^MR"},
		{"PID-3[2].1", "K123456"},
		{"PID-3[2].5", "MR"},
		{"PID-3[3].5", "PPN"},
		{"PID-3[4]", ""},
		{"PID-3[4].1", ""},
		{"PID-5.1", "FERNÁNDEZ"},
		{"PID-5.2", "María"},
		{"PID-5.1.1", "FERNÁNDEZ"},
		{"PID-5.1.2", ""},
		{"PID-5.6", ""},
		{"PID-13[2].4", "maria.fernandez@example.com"},
		{"PID-30", "N"},
		{"PID-31", ""},
		{"PID-99", ""},
		{"PID[1]-8", "F"},
		{"PID[2]-8", ""},
		{"PV1-3.9", "Ward 7 & Acute Medicine"},
		{"PV1-3", `RX1WARD7^Bay 2^Bed 4^RX1^^^^^Ward 7 \T\ Acute Medicine`}, // raw: not unescaped
		{"PV1-44", "20240213144500"},
		{"OBX-5", "72.5"},
		{"OBX[2]-5", "164"},
		{"OBX[2]-3.2", "Body height"},
		{"OBX[3]-5", ""},
		{"AL1[2]-3.2", "Allergy to peanuts"},
		{"AL1[2]-5", "Urticaria & swelling"},
		{"AL1[2]-6", ""},
		{"DG1-3.2", "Acute myocardial infarction, unspecified"},
		{"ZU1-4", "Admitted via A&E; see notes"},
		{"ZU1-4[2]", "Transferred from ED"},
		{"ZU1-5", "évaluation complète"},
		{"ZZZ-1", ""},
	}
	for _, tt := range tests {
		got, err := m.Get(tt.path)
		if err != nil {
			t.Errorf("Get(%q): %v", tt.path, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.path, got, tt.want)
		}
		if p := MustParsePath(tt.path); m.GetPath(p) != got {
			t.Errorf("GetPath(%q) = %q, Get = %q", tt.path, m.GetPath(p), got)
		}
	}
}

func TestGetEdgeCases(t *testing.T) {
	m := mustParse(t, lines(
		`MSH|^~\&|A|B`,
		`PID|1|""|A&B^C|X\S\Y^Z|\E\|&|x\`,
		`ZZZ`,
	))
	tests := []struct{ path, want string }{
		{"PID-2", `""`},       // HL7 null is returned as is
		{"PID-3.1", "A&B"},    // component with subcomponents: raw
		{"PID-3.1.2", "B"},    // leaf
		{"PID-4", `X\S\Y^Z`},  // structure: raw, escapes kept
		{"PID-4.1", "X^Y"},    // leaf: unescaped
		{"PID-5", `\`},        // \E\
		{"PID-6", "&"},        // two empty subcomponents: raw text
		{"PID-7", `x\`},       // lone escape character kept
		{"ZZZ-1", ""},         // segment without fields
		{"MSH-4", "B"},        // last field, no trailing separator
		{"MSH-5", ""},         // past the end
		{"MSH-1.1", "|"},      // MSH-1 is atomic
		{"MSH-1[2]", ""},      //
		{"MSH-2.1.1", `^~\&`}, // MSH-2 is never split
	}
	for _, tt := range tests {
		got, err := m.Get(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("Get(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	if _, err := m.Get("PID"); err == nil {
		t.Error(`Get("PID"): expected an error`)
	}
	if got := m.GetPath(Path{Segment: "PID"}); got != "" {
		t.Errorf("GetPath of a path without field = %q, want empty", got)
	}
}

func TestHeader(t *testing.T) {
	m := mustParse(t, string(readADT(t)))
	typ, trig, id, ver := m.Header()
	if typ != "ADT" || trig != "A01" || id != "MSG-20240213-000123" || ver != "2.4" {
		t.Errorf("Header() = %q %q %q %q", typ, trig, id, ver)
	}
	m = mustParse(t, `MSH|^~\&`)
	typ, trig, id, ver = m.Header()
	if typ != "" || trig != "" || id != "" || ver != "" {
		t.Errorf("Header() of bare MSH = %q %q %q %q, want all empty", typ, trig, id, ver)
	}
}

func TestSegmentsCountRepCount(t *testing.T) {
	m := mustParse(t, string(readADT(t)))
	want := "MSH EVN PID PD1 NK1 PV1 PV2 OBX OBX AL1 AL1 DG1 ZU1"
	if got := strings.Join(m.Segments(), " "); got != want {
		t.Errorf("Segments() = %s, want %s", got, want)
	}
	for seg, n := range map[string]int{"MSH": 1, "OBX": 2, "AL1": 2, "ZU1": 1, "IN1": 0} {
		if got := m.Count(seg); got != n {
			t.Errorf("Count(%s) = %d, want %d", seg, got, n)
		}
	}
	for path, n := range map[string]int{"PID-3": 3, "PID-5": 1, "PID-2": 0, "PID-99": 0, "ZU1-4": 2, "PID[2]-3": 0, "MSH-2": 1, "PID-3.1": 3} {
		if got := m.RepCount(MustParsePath(path)); got != n {
			t.Errorf("RepCount(%s) = %d, want %d", path, got, n)
		}
	}
}

func TestSet(t *testing.T) {
	const msh = `MSH|^~\&|A|B|C|D|20240101||ADT^A01|1|P|2.4`
	const pid = `PID|1||123^^^NHS~456||SMITH^JOHN`
	tests := []struct {
		path, value string
		raw         bool
		want        string // whole message after the Set
	}{
		{"PID-5.1", "JONES", false, lines(msh, `PID|1||123^^^NHS~456||JONES^JOHN`)},
		{"PID-5", "X", false, lines(msh, `PID|1||123^^^NHS~456||X`)},
		{"PID-5.2", "", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^`)},
		{"PID-5.3", "Q", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^JOHN^Q`)},
		{"PID-5.5", "Q", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^JOHN^^^Q`)},
		{"PID-5.1.2", "Z", false, lines(msh, `PID|1||123^^^NHS~456||SMITH&Z^JOHN`)},
		{"PID-5.2.3", "Z", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^JOHN&&Z`)},
		{"PID-3", "999", false, lines(msh, `PID|1||999~456||SMITH^JOHN`)},
		{"PID-3.2", "x", false, lines(msh, `PID|1||123^x^^NHS~456||SMITH^JOHN`)},
		{"PID-3[2].4", "MR", false, lines(msh, `PID|1||123^^^NHS~456^^^MR||SMITH^JOHN`)},
		{"PID-3[4]", "999", false, lines(msh, `PID|1||123^^^NHS~456~~999||SMITH^JOHN`)},
		{"PID-4", "a", false, lines(msh, `PID|1||123^^^NHS~456|a|SMITH^JOHN`)},
		{"PID-8", "F", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^JOHN|||F`)},
		{"PID-10[2].2.3", "x", false, lines(msh, `PID|1||123^^^NHS~456||SMITH^JOHN|||||~^&&x`)},
		{"PID-5.1", "O'BRIEN^X", false, lines(msh, `PID|1||123^^^NHS~456||O'BRIEN\S\X^JOHN`)},
		{"PID-5.1", `a|b~c&d\e`, false, lines(msh, `PID|1||123^^^NHS~456||a\F\b\R\c\T\d\E\e^JOHN`)},
		{"PID-5.1", "line1\r\nline2", false, lines(msh, `PID|1||123^^^NHS~456||line1\X0D\\X0A\line2^JOHN`)},
		{"PID-5.1", "Fernández", false, lines(msh, `PID|1||123^^^NHS~456||Fernández^JOHN`)},
		{"PID-5", "DOE^JANE", true, lines(msh, `PID|1||123^^^NHS~456||DOE^JANE`)},
		{"PID-3", `A~B\S\C`, true, lines(msh, `PID|1||A~B\S\C~456||SMITH^JOHN`)},
		{"PID-20", "", false, lines(msh, pid)}, // "" on a missing field: no-op
		{"ZZZ-1", "", false, lines(msh, pid)},  // "" on a missing segment: no-op
		{"PID-5", "SMITH^JOHN", true, lines(msh, pid)},
		{"MSH-3", "NEW", false, lines(`MSH|^~\&|NEW|B|C|D|20240101||ADT^A01|1|P|2.4`, pid)},
		{"MSH-9.3", "ADT_A01", false, lines(`MSH|^~\&|A|B|C|D|20240101||ADT^A01^ADT_A01|1|P|2.4`, pid)},
		{"MSH-13", "7", false, lines(msh+"|7", pid)},
		{"ZZZ-2", "v", false, lines(msh, pid, "ZZZ||v")},
		{"ZZZ[1]-1.2", "v", false, lines(msh, pid, "ZZZ|^v")},
		{"PID[2]-1", "2", false, lines(msh, pid, "PID|2")},
		{"OBX-5[2]", "a^b", false, lines(msh, pid, `OBX|||||~a\S\b`)},
	}
	for _, tt := range tests {
		m := mustParse(t, lines(msh, pid))
		var err error
		if tt.raw {
			err = m.SetRaw(tt.path, tt.value)
		} else {
			err = m.Set(tt.path, tt.value)
		}
		if err != nil {
			t.Errorf("Set(%q, %q): %v", tt.path, tt.value, err)
			continue
		}
		if got := string(m.Bytes()); got != tt.want {
			t.Errorf("Set(%q, %q):\n got %q\nwant %q", tt.path, tt.value, got, tt.want)
		}
		if !tt.raw {
			if got, _ := m.Get(tt.path); got != tt.value {
				t.Errorf("Get(%q) after Set = %q, want %q", tt.path, got, tt.value)
			}
		}
	}
}

func TestSetErrors(t *testing.T) {
	m := mustParse(t, lines(`MSH|^~\&|A`, `OBX|1`, `OBX|2`))
	tests := []struct {
		path, value string
		raw         bool
		want        string
	}{
		{"MSH-1", "#", false, "MSH-1: the field separator cannot be set"},
		{"MSH-2", "$*@!", false, "MSH-2: the encoding characters cannot be set"},
		{"MSH-2.1", "x", true, "MSH-2.1: the encoding characters cannot be set"},
		{"MSH[2]-3", "x", false, "MSH[2]-3: expected MSH[1]; a message has one MSH segment"},
		{"OBX[4]-1", "x", false, "OBX[4]-1: message has 2 OBX segment(s), so expected OBX[3] at most"},
		{"PID[2]-1", "x", false, "PID[2]-1: message has 0 PID segment(s), so expected PID[1] at most"},
		{"OBX-5", "a|b", true, `OBX-5: raw value contains '|' at byte 1; expected no field separator, CR, LF or MLLP framing bytes (use Set to escape them)`},
		{"OBX-5", "a\nb", true, `OBX-5: raw value contains '\n' at byte 1; expected no field separator, CR, LF or MLLP framing bytes (use Set to escape them)`},
		{"PID", "x", false, `path "PID": expected "-" and a field number after the segment name`},
	}
	before := string(m.Bytes())
	for _, tt := range tests {
		var err error
		if tt.raw {
			err = m.SetRaw(tt.path, tt.value)
		} else {
			err = m.Set(tt.path, tt.value)
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set(%q, %q) error = %v, want %s", tt.path, tt.value, err, tt.want)
		}
	}
	if after := string(m.Bytes()); after != before {
		t.Errorf("failed Sets changed the message:\n%q\n%q", before, after)
	}
	if err := m.SetPath(Path{Segment: "OBX", Field: 0}, "x"); err == nil {
		t.Error("SetPath with field 0: expected an error")
	}
}

// Only the segment that was Set may change; the rest stays byte-for-byte.
func TestSetTouchesOnlyItsSegment(t *testing.T) {
	raw := readADT(t)
	m := mustParse(t, string(raw))
	if err := m.Set("PID-5.1", "FERNÁNDEZ-GARCÍA"); err != nil {
		t.Fatal(err)
	}
	if err := m.Set("OBX[2]-5", "165"); err != nil {
		t.Fatal(err)
	}
	want := strings.Split(string(raw), "\r")
	got := strings.Split(string(m.Bytes()), "\r")
	if len(got) != len(want) {
		t.Fatalf("segment count changed: %d -> %d", len(want), len(got))
	}
	for i := range want {
		changed := got[i] != want[i]
		if wantChanged := i == 2 || i == 8; changed != wantChanged {
			t.Errorf("segment %d changed = %v:\n got %q\nwant %q", i+1, changed, got[i], want[i])
		}
	}
	if !strings.Contains(got[2], "|FERNÁNDEZ-GARCÍA^María^José^^Ms|") || !strings.Contains(got[8], "||165|cm^") {
		t.Errorf("unexpected rewrite:\n%s\n%s", got[2], got[8])
	}
}

func TestRoundTrip(t *testing.T) {
	adt := readADT(t)
	segs := strings.Split(strings.TrimSuffix(string(adt), "\r"), "\r")
	join := func(sep, tail string) []byte { return []byte(strings.Join(segs, sep) + tail) }
	mixed := strings.Join(segs[:4], "\n") + "\r\n" + strings.Join(segs[4:8], "\r") + "\n\r\n" + strings.Join(segs[8:], "\r\n")
	tests := []struct {
		name string
		in   []byte
	}{
		{"CR", adt},
		{"CR, no final CR", join("\r", "")},
		{"LF", join("\n", "\n")},
		{"CRLF", join("\r\n", "\r\n")},
		{"mixed", []byte(mixed)},
		{"blank lines", join("\r\n\r\n", "\r\n \t\r\n\n")},
		{"MLLP", append(append([]byte{0x0B}, adt...), 0x1C, 0x0D)},
		{"MLLP, no final CR", append(append([]byte{0x0B}, join("\r", "")...), 0x1C, 0x0D)},
		{"BOM", append([]byte("\xEF\xBB\xBF"), join("\n", "\n")...)},
		{"leading blank line", append([]byte("\r\n"), adt...)},
	}
	for _, tt := range tests {
		m, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := m.Bytes(); !bytes.Equal(got, adt) {
			t.Errorf("%s: Bytes() differs from the CR-normalised input:\n got %q\nwant %q", tt.name, got, adt)
		}
	}
	// Trailing spaces inside a segment are data, even on the last segment.
	in := lines(`MSH|^~\&|A `, `ZZZ|b  `)
	if got := string(mustParse(t, in).Bytes()); got != in {
		t.Errorf("trailing spaces: got %q, want %q", got, in)
	}
}

func TestParseKeepsOwnCopy(t *testing.T) {
	raw := readADT(t)
	m := mustParse(t, string(raw))
	for i := range raw {
		raw[i] = 'X'
	}
	if got, _ := m.Get("PID-3.1"); got != "0000000000" {
		t.Errorf("Get after the caller reused its buffer = %q", got)
	}
}

func TestCustomDelimiters(t *testing.T) {
	in := lines(
		`MSH#$*@!#LAB#RX1#JUNCTION#RX1#20240213144932##ORU$R01#42#P#2.4`,
		`PID#1##0000000000$$$NHS$NH*K123456$$$RX1$MR##O@S@BRIEN$SE@T@AN!X`,
		`OBX#1#ST#X$Y##a|b^c~d&e\f`,
	)
	m := mustParse(t, in)
	want := Delimiters{Field: '#', Component: '$', Repetition: '*', Escape: '@', Subcomponent: '!'}
	if m.Delims() != want {
		t.Errorf("Delims() = %+v, want %+v", m.Delims(), want)
	}
	gets := []struct{ path, want string }{
		{"MSH-1", "#"},
		{"MSH-2", "$*@!"},
		{"MSH-3", "LAB"},
		{"MSH-9.2", "R01"},
		{"MSH-10", "42"},
		{"PID-3[2].1", "K123456"},
		{"PID-3[2].5", "MR"},
		{"PID-5.1", "O$BRIEN"},
		{"PID-5.2", "SE@T@AN!X"}, // has subcomponents: raw
		{"PID-5.2.1", "SE!AN"},
		{"PID-5.2.2", "X"},
		{"OBX-5", `a|b^c~d&e\f`}, // the usual delimiters are plain text here
	}
	for _, tt := range gets {
		if got, _ := m.Get(tt.path); got != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if err := m.Set("OBX-5", "x#y$z*w@v!u"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("OBX-5"); got != "x#y$z*w@v!u" {
		t.Errorf("Get after Set = %q", got)
	}
	wantOBX := `OBX#1#ST#X$Y##x@F@y@S@z@R@w@E@v@T@u`
	if got := strings.Split(string(m.Bytes()), "\r")[2]; got != wantOBX {
		t.Errorf("OBX after Set = %q, want %q", got, wantOBX)
	}
	if err := m.Set("PID-3[3].4", "HO"); err != nil {
		t.Fatal(err)
	}
	wantPID := `PID#1##0000000000$$$NHS$NH*K123456$$$RX1$MR*$$$HO##O@S@BRIEN$SE@T@AN!X`
	if got := strings.Split(string(m.Bytes()), "\r")[1]; got != wantPID {
		t.Errorf("PID after Set = %q, want %q", got, wantPID)
	}
}

func TestTruncationCharacter(t *testing.T) {
	m := mustParse(t, lines(`MSH|^~\&#|A|B||||ADT^A01|1|P|2.7`, `NTE|1||50\P\ off#`))
	if d := m.Delims(); d.Truncation != '#' {
		t.Fatalf("Truncation = %q, want '#'", d.Truncation)
	}
	if got, _ := m.Get("MSH-2"); got != `^~\&#` {
		t.Errorf("MSH-2 = %q", got)
	}
	if got, _ := m.Get("NTE-3"); got != "50# off#" {
		t.Errorf("NTE-3 = %q", got)
	}
	if err := m.Set("NTE-3", "#1"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(m.Bytes()), "NTE|1||\\P\\1\r") {
		t.Errorf("Bytes() = %q", m.Bytes())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `empty message: expected a message starting with "MSH"`},
		{"\r\n \n", `empty message: expected a message starting with "MSH"`},
		{"\x0b\x1c\r", `empty message: expected a message starting with "MSH"`},
		{"PID|1\r", `segment 1: expected a message starting with "MSH", got "PID"`},
		{"hello world", `segment 1: expected a message starting with "MSH", got "hello world"`},
		{"MSH", `MSH-1: expected a field separator after "MSH" (e.g. |), got ""`},
		{"MSHA^~\\&", `MSH-1: expected a field separator after "MSH" (e.g. |), got "A"`},
		{"MSH ^~\\&", `MSH-1: expected a field separator after "MSH" (e.g. |), got " "`},
		{"MSH|", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got ""`},
		{"MSH|^~\\|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~\\"`},
		{"MSH|^~\\&#!|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~\\&#!"`},
		{"MSH|^~^&|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~^&"`},
		{"MSH|^~A&|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~A&"`},
		{"MSH|^~ &|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~ &"`},
		{"MSH|^~\\\xc3\xa1|A", `MSH-2: expected 4 encoding characters (e.g. ^~\&), got "^~\\á"`},
		{"MSH|^~\\&|A\rEVN|A01\rP1|x\r", `segment 3: expected a 3-character segment name, got "P1"`},
		{"MSH|^~\\&|A\rEVN|A01\r\r\nP1|x\r", `segment 3: expected a 3-character segment name, got "P1"`},
		{"MSH|^~\\&|A\rpid|1", `segment 2: expected a 3-character segment name, got "pid"`},
		{"MSH|^~\\&|A\rPIDX|1", `segment 2: expected a 3-character segment name, got "PIDX"`},
		{"MSH|^~\\&|A\rPID^1|1", `segment 2: expected a 3-character segment name, got "PID^1"`},
		{"MSH|^~\\&|A\r PID|1", `segment 2: expected a 3-character segment name, got " PID"`},
		{"MSH|^~\\&|A\rPI", `segment 2: expected a 3-character segment name, got "PI"`},
		{"MSH|^~\\&|A\rTHIS IS A VERY LONG LINE OF TEXT", `segment 2: expected a 3-character segment name, got "THIS IS A VERY LONG "`},
		{"MSH#^~\\&#A\rPID|1", `segment 2: expected a 3-character segment name, got "PID|1"`},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.in))
		if err == nil {
			t.Errorf("Parse(%q) succeeded: %q", tt.in, m.Bytes())
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tt.in, err, tt.want)
		}
		if _, ok := err.(*ParseError); !ok {
			t.Errorf("Parse(%q) error is %T, want *ParseError", tt.in, err)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse([]byte("MSH|^~\\&|A\rEVN|A01\rP1|x\r"))
	pe, ok := err.(*ParseError)
	if !ok || pe.SegIndex != 3 || pe.Field != 0 {
		t.Errorf("err = %#v", err)
	}
	_, err = Parse([]byte("MSH|^~|A"))
	pe, ok = err.(*ParseError)
	if !ok || pe.Segment != "MSH" || pe.Field != 2 || pe.SegIndex != 1 {
		t.Errorf("err = %#v", err)
	}
}

// Get must not allocate when the value has no escapes; it is called for
// every routed message.
func TestGetDoesNotAllocate(t *testing.T) {
	m := mustParse(t, string(readADT(t)))
	p := MustParsePath("PID-3[2].1")
	allocs := testing.AllocsPerRun(100, func() {
		if m.GetPath(p) != "K123456" {
			t.Fatal("wrong value")
		}
		if v, _ := m.Get("MSH-10"); v == "" {
			t.Fatal("wrong value")
		}
	})
	if allocs != 0 {
		t.Errorf("GetPath/Get allocated %.0f times, want 0", allocs)
	}
}

func TestGetRawCopiesBetweenMessages(t *testing.T) {
	src := mustParse(t, lines(`MSH|^~\&|A`, `PID|1||X||A\T\E^Ward 7 \T\ Acute|Smith \T\ Sons`))
	dst := mustParse(t, lines(`MSH|^~\&|B`, `PID|1`))
	for _, path := range []string{"PID-5", "PID-6", "PID-5.1"} {
		v, err := src.GetRaw(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.SetRaw(path, v); err != nil {
			t.Fatal(err)
		}
		want, _ := src.Get(path)
		if got, _ := dst.Get(path); got != want {
			t.Errorf("copied %s reads %q, want %q", path, got, want)
		}
	}
	if got, want := string(dst.Bytes()), lines(`MSH|^~\&|B`, `PID|1||||A\T\E^Ward 7 \T\ Acute|Smith \T\ Sons`); got != want {
		t.Errorf("dst = %q, want %q", got, want)
	}
	if v, _ := src.GetRaw("PID-6"); v != `Smith \T\ Sons` {
		t.Errorf("GetRaw(PID-6) = %q", v)
	}
	if _, err := src.GetRaw("PID"); err == nil {
		t.Error(`GetRaw("PID"): expected an error`)
	}
}
