package hl7

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// manyOBX is an ORU with n OBX segments, OBX-5 of the i-th being "v<i>".
func manyOBX(n int) string {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LAB|RX1|JUNCTION|RX1|20240213150102||ORU^R01|C1|P|2.5\rPID|1||0000000000^^^NHS^NH\rOBR|1|A|B|X^Y^LN\r")
	for i := 1; i <= n; i++ {
		b.WriteString("OBX|" + strconv.Itoa(i) + "|ST|C^Code^L||v" + strconv.Itoa(i) + "||||||F\r")
	}
	return b.String()
}

// workOf counts the segments and bytes that f's lookups examine.
func workOf(f func()) int {
	n, stop := CountWork()
	defer stop()
	f()
	return *n
}

// assertLinear fails unless work for 8 times the input is at most 12 times
// the work for the input: linear growth gives 8, quadratic 64.
func assertLinear(t *testing.T, what string, small, large int) {
	t.Helper()
	if small == 0 || large > 12*small {
		t.Errorf("%s: work grew from %d to %d (%.1fx) for 8x the input; want linear growth (about 8x)",
			what, small, large, float64(large)/float64(max(small, 1)))
	}
}

func TestReadingEveryOBXOfALongMessageIsLinearInItsSize(t *testing.T) {
	readAll := func(n int) int {
		m := mustParse(t, manyOBX(n))
		return workOf(func() {
			for i := 1; i <= n; i++ {
				p := Path{Segment: "OBX", SegmentRep: i, Field: 5}
				if got, want := m.GetPath(p), "v"+strconv.Itoa(i); got != want {
					t.Fatalf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}
	assertLinear(t, "GetPath(OBX[i]-5) for every i", readAll(1000), readAll(8000))
}

func TestSettingEveryOBXOfALongMessageIsLinearInItsSize(t *testing.T) {
	setAll := func(n int) int {
		m := mustParse(t, manyOBX(n))
		return workOf(func() {
			for i := 1; i <= n; i++ {
				if err := m.SetPath(Path{Segment: "OBX", SegmentRep: i, Field: 5}, "w"); err != nil {
					t.Fatal(err)
				}
			}
			if m.Count("OBX") != n {
				t.Fatalf("Count(OBX) = %d, want %d", m.Count("OBX"), n)
			}
		})
	}
	assertLinear(t, "SetPath(OBX[i]-5) for every i", setAll(1000), setAll(8000))
}

// Concurrent Gets are safe (see the package doc), also while the first of
// them builds the segment index; run with -race.
func TestConcurrentGetsOfALongMessageAreSafe(t *testing.T) {
	m := mustParse(t, manyOBX(200))
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 200; i >= 1; i-- {
				ok = ok && m.GetPath(Path{Segment: "OBX", SegmentRep: i, Field: 5}) == "v"+strconv.Itoa(i) && m.Count("OBX") == 200
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("a concurrent Get read the wrong value")
		}
	}
}

func TestSegmentsAppendedBySetAreFoundByOccurrence(t *testing.T) {
	m := mustParse(t, manyOBX(40))
	if got, _ := m.Get("OBX[40]-5"); got != "v40" { // builds the index
		t.Fatalf("OBX[40]-5 = %q", got)
	}
	for i, v := range []string{"a", "b"} {
		if err := m.Set("ZZZ["+strconv.Itoa(i+1)+"]-1", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Set("OBX[41]-5", "v41"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("ZZZ[2]-1"); got != "b" {
		t.Errorf("ZZZ[2]-1 = %q, want b", got)
	}
	if got, _ := m.Get("OBX[41]-5"); got != "v41" {
		t.Errorf("OBX[41]-5 = %q, want v41", got)
	}
	if m.Count("ZZZ") != 2 || m.Count("OBX") != 41 {
		t.Errorf("Count(ZZZ) = %d, Count(OBX) = %d; want 2 and 41", m.Count("ZZZ"), m.Count("OBX"))
	}
	if err := m.Set("OBX[43]-5", "x"); err == nil || !strings.Contains(err.Error(), "has 41 OBX segment(s)") {
		t.Errorf("Set(OBX[43]-5) = %v, want an error naming 41 OBX segments", err)
	}
}

// TestSegmentReadsWhatGetPathReads compares every element a Segment reads
// with GetPath, GetRawPath and RepCount on the same message.
func TestSegmentReadsWhatGetPathReads(t *testing.T) {
	for _, raw := range []string{string(readADT(t)), oruR01, "MSH#$*@!#LAB#RX1#####ORU$R01#1#P#2.4\rPID#1##A$B*C##O@S@BRIEN\r",
		"MSH|^~\\&#|A|B||||ADT^A01|1|P|2.7\rNTE|1||a\\P\\b#~x^y&z~\"\"\r"} {
		m := mustParse(t, raw)
		occ := map[string]int{}
		for i, name := range m.Segments() {
			occ[name]++
			s := m.SegmentAt(i)
			if s.Name() != name {
				t.Fatalf("SegmentAt(%d).Name() = %q, want %q", i, s.Name(), name)
			}
			for f := 1; f <= 22; f++ {
				p := Path{Segment: name, SegmentRep: occ[name], Field: f}
				if got, want := s.RepCount(f), m.RepCount(p); got != want {
					t.Errorf("%s: RepCount = %d, GetPath's %d", p, got, want)
				}
				for r := 0; r <= 3; r++ {
					for c := 0; c <= 4; c++ {
						for sc := 0; sc <= 3; sc++ {
							p.FieldRep, p.Component, p.Subcomponent = r, c, sc
							if got, want := s.Get(f, r, c, sc), m.GetPath(p); got != want {
								t.Errorf("%s: Segment.Get = %q, GetPath = %q", p, got, want)
							}
							if got, want := s.GetRaw(f, r, c, sc), m.GetRawPath(p); got != want {
								t.Errorf("%s: Segment.GetRaw = %q, GetRawPath = %q", p, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestReadingEveryRepetitionOfAFieldIsLinearInItsSize(t *testing.T) {
	readAll := func(n int) int {
		m := mustParse(t, "MSH|^~\\&|A|B||||ADT^A01|1|P|2.4\rPID|1||"+strings.Repeat("123^^^NHS^NH~", n)+"9||X\r")
		return workOf(func() {
			s := m.SegmentAt(1)
			for r := 1; r <= s.RepCount(3); r++ {
				if want := "123"; r > n {
					want = "9"
					if got := s.Get(3, r, 1, 0); got != want {
						t.Fatalf("PID-3[%d].1 = %q, want %q", r, got, want)
					}
				} else if got := s.Get(3, r, 1, 0) + s.Get(3, r, 4, 0); got != want+"NHS" {
					t.Fatalf("PID-3[%d] reads %q, want %q", r, got, want+"NHS")
				}
			}
			if got := s.Get(5, 0, 1, 0); got != "X" {
				t.Fatalf("PID-5 = %q, want X", got)
			}
		})
	}
	assertLinear(t, "Segment.Get(PID-3[r]) for every r", readAll(2000), readAll(16000))
}

func TestASegmentReadsRepetitionsBeyondThePathLimit(t *testing.T) {
	const n = maxIndex + 1000
	m := mustParse(t, "MSH|^~\\&|A|B||||ORU^R01|1|P|2.5\rOBX|1|TX|C||"+strings.Repeat("x~", n-1)+"last\r")
	s := m.SegmentAt(1)
	if got := s.RepCount(5); got != n {
		t.Fatalf("RepCount(5) = %d, want %d", got, n)
	}
	if got := s.Get(5, n, 0, 0); got != "last" {
		t.Errorf("Get(5, %d) = %q, want last", n, got)
	}
	if got := s.Get(5, n+1, 0, 0); got != "" {
		t.Errorf("Get(5, %d) = %q, want empty", n+1, got)
	}
}

func TestParseStringSharesTheInputInsteadOfCopyingIt(t *testing.T) {
	raw := manyOBX(3)
	m, err := ParseString(raw)
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(m.segs[0]) != unsafe.StringData(raw) {
		t.Error("ParseString copied its input")
	}
	if m2 := mustParse(t, raw); string(m2.Bytes()) != string(m.Bytes()) {
		t.Errorf("ParseString and Parse differ:\n%q\n%q", m.Bytes(), m2.Bytes())
	}
	if _, err := ParseString("PID|1\r"); err == nil {
		t.Error("ParseString accepted a message without MSH")
	}
}

// Escape sizes its result before writing it: a large value with many
// delimiters and control characters costs one allocation of its size.
func TestEscapeAllocatesOnceWhateverItEscapes(t *testing.T) {
	for _, s := range []string{"a|b", strings.Repeat("^~\\&|\r\n\x01\x1c plain ", 5000), "\x00", "é|ü"} {
		var out string
		allocs := testing.AllocsPerRun(10, func() { out = Escape(s, DefaultDelimiters) })
		if allocs != 1 {
			t.Errorf("Escape of %d bytes allocated %.0f times, want 1", len(s), allocs)
		}
		if Unescape(out, DefaultDelimiters) != s {
			t.Errorf("Escape(%.20q) does not unescape back", s)
		}
	}
}
