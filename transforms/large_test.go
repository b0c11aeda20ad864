package transforms

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bigORU is an ORU^R01 with n OBX segments, the first of which has a TX
// OBX-5 of text bytes (0: an NM like the others).
func bigORU(n, text int) []byte {
	var b strings.Builder
	b.Grow(n*90 + text + 512)
	b.WriteString("MSH|^~\\&|LIMS|LEEDS|JUNCTION|LEEDS|20240610154500||ORU^R01^ORU_R01|LAB-1|P|2.5.1\r" +
		"PID|1||4857773456^^^NHS^NH||Fernández^Ravi||19780105|M\r" +
		"OBR|1|ORD123^EPR|FIL456^LIMS|24331-1^Lipid panel^LN|||20240610080000\r")
	for i := 1; i <= n; i++ {
		if i == 1 && text > 0 {
			b.WriteString("OBX|1|TX|8251-1^Comment^LN||" + strings.Repeat("Sample received late. ", text/22) + "||||||F\r")
			continue
		}
		b.WriteString("OBX|" + strconv.Itoa(i) + "|NM|2093-3^Cholesterol^LN||5.8|mmol/L^^UCUM|3.0-5.0|H|||F\r")
	}
	return []byte(b.String())
}

// edADT is the transform of routes.yaml's ed-adt channel.
var edADT = []string{`set("PID-5.1", upper(get("PID-5.1")))`, `setBody(toFHIR())`}

// runRoute parses raw and runs the ed-adt transform over it.
func runRoute(t testing.TB, progs []*Program, raw []byte) []byte {
	m, err := Parse(HL7v2, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(m, "ed-adt")
	defer s.Close()
	for _, p := range progs {
		if err := s.Transform(p); err != nil {
			t.Fatal(err)
		}
	}
	out, err := m.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compileRoute(t testing.TB) []*Program {
	progs := make([]*Program, len(edADT))
	for i, src := range edADT {
		p, err := Compile(Script{Source: src, File: "routes.yaml", Path: "ed-adt"}, Transform, []string{HL7v2})
		if err != nil {
			t.Fatal(err)
		}
		progs[i] = p
	}
	return progs
}

func TestToFHIRConvertsTheMessageAsSetLeftIt(t *testing.T) {
	out := runRoute(t, compileRoute(t), bigORU(3, 0))
	if !strings.Contains(string(out), `"family":"FERNÁNDEZ"`) || !strings.HasPrefix(string(out), `{"resourceType":"Bundle"`) {
		t.Errorf("output is not the Bundle of the transformed message: %.300s", out)
	}
	// A body built from toFHIR() is its own copy.
	m := parse(t, HL7v2, string(bigORU(1, 0)))
	s := NewSession(m, "c")
	defer s.Close()
	if err := s.Transform(compile(t, `setBody("[" + toFHIR() + "]")`, Transform)); err != nil {
		t.Fatal(err)
	}
	if out, _ := m.Output(); !strings.HasPrefix(string(out), `[{"resourceType":"Bundle"`) {
		t.Errorf("setBody of a string made from toFHIR() = %.100s", out)
	}
}

// One 9 MB field cost about 13 times its size through parse, set and
// toFHIR: the parsed copy, Bytes and a second parse for toFHIR, the JSON
// grown in steps, compacted and copied by encoding/json, then copied to a
// string and back to bytes for setBody. Now the JSON is the only copy.
func TestTheBundledRouteTakesA9MBFieldInAboutItsSize(t *testing.T) {
	progs := compileRoute(t)
	raw := bigORU(1, 9<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out := runRoute(t, progs, raw)
	runtime.ReadMemStats(&after)
	n := after.TotalAlloc - before.TotalAlloc
	if limit := 2 * uint64(len(raw)); n > limit {
		t.Errorf("the route allocated %d bytes (%.1fx) for a %d-byte message; want at most 2x",
			n, float64(n)/float64(len(raw)), len(raw))
	}
	if len(out) < len(raw) {
		t.Errorf("the Bundle (%d bytes) lost the field (%d bytes)", len(out), len(raw))
	}
}

// A guard against minutes-long conversions (a 4 MB message of 100k OBX got
// no answer), not a timing: it allows a minute.
func TestTheBundledRouteAnswersAMessageOf100kSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("transforms an 8 MB message")
	}
	progs, raw := compileRoute(t), bigORU(100_000-3, 0)
	done := make(chan []byte, 1)
	go func() { done <- runRoute(t, progs, raw) }()
	select {
	case out := <-done:
		if n := strings.Count(string(out), `"resourceType":"Observation"`); n != 100_000-3 {
			t.Errorf("the Bundle has %d Observations, want %d", n, 100_000-3)
		}
	case <-time.After(time.Minute):
		t.Fatal("transforming 100k segments took more than a minute")
	}
}

// BenchmarkRoute100kSegments runs routes.yaml's ed-adt transform (set
// PID-5.1, setBody(toFHIR())) over an 8 MB ORU^R01 of 100,000 segments,
// reporting MB/s and bytes allocated per byte of message (alloc/body).
func BenchmarkRoute100kSegments(b *testing.B) { benchmarkRoute(b, bigORU(100_000-3, 0)) }

// BenchmarkRoute9MBField is the same for a message with one 9 MB OBX-5.
func BenchmarkRoute9MBField(b *testing.B) { benchmarkRoute(b, bigORU(1, 9<<20)) }

func benchmarkRoute(b *testing.B, raw []byte) {
	progs := compileRoute(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		runRoute(b, progs, raw)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(raw)), "alloc/body")
}

func TestSegmentsListsASegmentAppendedBySet(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "c")
	defer s.Close()
	for _, src := range []string{`segments() == ["MSH", "PID", "PV1"]`, `set("ZZZ-1", "x") && segments()[3] == "ZZZ"`} {
		if ok, err := s.Filter(compile(t, src, Filter)); err != nil || !ok {
			t.Errorf("%s = %v, %v", src, ok, err)
		}
	}
}
