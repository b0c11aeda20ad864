package hl7tofhir

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mshORU = "MSH|^~\\&|LIMS|LEEDSPATH|JUNCTION|LEEDS|20240610154500||ORU^R01^ORU_R01|LAB-1|P|2.5.1"

// largeORU is an ORU^R01 with n OBX segments (NM, with units, reference
// range and interpretation) under one OBR: n+5 segments.
func largeORU(n int) []byte {
	var b strings.Builder
	b.Grow(n * 100)
	b.WriteString(mshORU + "\rPID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M\r" +
		"PV1|1|O|OPD1^^^LEEDS||||||||||||||||V449000^^^LEEDS^VN\rORC|RE|ORD123^EPR|FIL456^LIMS||CM\r" +
		"OBR|1|ORD123^EPR|FIL456^LIMS|24331-1^Lipid panel^LN|||20240610080000\r")
	for i := 1; i <= n; i++ {
		b.WriteString("OBX|" + strconv.Itoa(i) + "|NM|2093-3^Cholesterol^LN||5.8|mmol/L^millimole per litre^UCUM|3.0-5.0|H|||F\r")
	}
	return []byte(b.String())
}

// bigFieldORU is an ORU^R01 whose one OBX-5 (TX) is size bytes of text.
func bigFieldORU(size int) []byte {
	return msg(mshORU, "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M",
		"OBR|1|ORD123^EPR|FIL456^LIMS|24331-1^Lipid panel^LN|||20240610080000",
		"OBX|1|TX|8251-1^Service comment^LN||"+strings.Repeat("Sample received late. ", size/22)+"||||||F")
}

// allocated is the number of bytes f allocates (deterministic for one
// goroutine, unlike time); the tests using it must not run in parallel.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// convertJSON converts raw and renders the Bundle as toFHIR() does.
func convertJSON(t testing.TB, c *Converter, raw []byte) (*Result, []byte) {
	t.Helper()
	res, err := c.Convert(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.Bundle.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

// The hostile tester's 4 MB message of 100k OBX got no answer in minutes.
// This is a guard against that, not a timing: it allows a minute.
func TestAMessageOf100kSegmentsConverts(t *testing.T) {
	if testing.Short() {
		t.Skip("converts an 8 MB message")
	}
	raw := largeORU(100_000 - 5)
	c, _ := NewConverter(Options{})
	done := make(chan *Result, 1)
	go func() {
		res, _ := convertJSON(t, c, raw)
		done <- res
	}()
	select {
	case res := <-done:
		obs := 0
		entries, _ := res.Bundle.Get("entry").([]any)
		for _, e := range entries {
			if e.(*Object).Get("resource").(*Object).Get("resourceType") == "Observation" {
				obs++
			}
		}
		if obs != 100_000-5 {
			t.Errorf("Bundle has %d Observations, want %d", obs, 100_000-5)
		}
	case <-time.After(time.Minute):
		t.Fatal("converting 100k segments took more than a minute")
	}
}

// One 9 MB field used to cost about 12 times its size in allocations
// before it reached the $ingest pipeline's own copies: parse, serialise and
// parse again, and JSON grown in steps then compacted and copied.
func TestA9MBFieldConvertsInAFewTimesItsSize(t *testing.T) {
	raw := bigFieldORU(9 << 20)
	c, _ := NewConverter(Options{})
	var out []byte
	n := allocated(func() { _, out = convertJSON(t, c, raw) })
	// The parsed copy of the message and the JSON, each about its size.
	if limit := 3 * uint64(len(raw)); n > limit {
		t.Errorf("converting a %d-byte message allocated %d bytes (%.1fx); want at most 3x",
			len(raw), n, float64(n)/float64(len(raw)))
	}
	if len(out) < len(raw) {
		t.Errorf("the Bundle (%d bytes) lost the field (%d bytes)", len(out), len(raw))
	}
}

// TestConversionAllocatesLinearlyInTheMessageSize grows messages 8 times,
// in both the number of segments and the length of a value they share, and
// compares what conversion allocates: a value copied into every segment's
// key made it grow 64 times.
func TestConversionAllocatesLinearlyInTheMessageSize(t *testing.T) {
	long := func(k int) string { return strings.Repeat("L", 8<<10*k) }
	tests := []struct {
		name string
		make func(k int) []byte // a message k times the size
	}{
		{"many OBX", func(k int) []byte { return largeORU(1000 * k) }},
		{"a long MSH-10 and many OBX without an OBR", func(k int) []byte {
			return msg(strings.Replace(mshA01, "|E-1|", "|"+long(k)+"|", 1), pidOK,
				strings.Repeat("OBX|1|NM|C^Code^L||1\r", 250*k))
		}},
		{"a long ORC-3 and many OBR taking it", func(k int) []byte {
			return msg(mshORU, pidOK, "ORC|RE||"+long(k)+"^LIMS", strings.Repeat("OBR||||C^Code^L\r", 250*k))
		}},
		{"a long OBR-3 and many OBX under it", func(k int) []byte {
			return msg(mshORU, pidOK, "OBR|1||"+long(k)+"^LIMS|C^Code^L", strings.Repeat("OBX||NM|C^Code^L||1\r", 250*k))
		}},
		{"many values that do not fit, each a warning", func(k int) []byte {
			return msg(mshORU, "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|X",
				strings.Repeat("OBX|1|NM|C^Code^L||abc~12,5|||||Q|||2024991\r", 250*k))
		}},
		{"many lines that are not segments, mended away", func(k int) []byte {
			return msg(mshA01, pidOK, strings.Repeat("not a segment\r", 2000*k))
		}},
		{"a long MSH-3 and many clinicians named without an ID", func(k int) []byte {
			return msg(strings.Replace(mshA01, "|PAS|", "|"+long(k)+"|", 1), pidOK,
				"PV1|1|I||||||"+strings.Repeat("^DOC^A~", 250*k))
		}},
	}
	c, _ := NewConverter(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := func(k int) uint64 {
				raw := tt.make(k)
				return allocated(func() { convertJSON(t, c, raw) })
			}
			small, large := size(1), size(8)
			if large > 12*small {
				t.Errorf("8x the message allocated %.1fx the bytes (%d -> %d); want linear growth (about 8x)",
					float64(large)/float64(small), small, large)
			}
		})
	}
}

func TestAnORCCopiedIntoTooManyResourcesIsRefused(t *testing.T) {
	c, _ := NewConverter(Options{})
	placer := strings.Repeat("P", 64<<10)
	reports := func(n int) []byte {
		segs := []string{mshORU, pidOK, "ORC|RE|" + placer + "^EPR"}
		for i := 1; i <= n; i++ {
			segs = append(segs, "OBR|"+strconv.Itoa(i)+"||F"+strconv.Itoa(i)+"^LIMS|C^Code^L")
		}
		return msg(segs...)
	}
	res, err := c.Convert(reports(4))
	if err != nil {
		t.Fatalf("4 reports taking a 64 KB ORC-2: %v", err)
	}
	if got := strings.Count(string(res.JSON()), placer); got != 4 {
		t.Errorf("ORC-2 is in %d reports, want 4", got)
	}
	_, err = c.Convert(reports(64))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "ORC" || !strings.Contains(err.Error(), "copied into each resource of its order group") {
		t.Errorf("64 reports taking a 64 KB ORC-2: err = %v, want a FieldError at ORC", err)
	}

	providers := make([]string, 2000)
	for i := range providers {
		providers[i] = "D" + strconv.Itoa(i) + "^DOC^A"
	}
	vxu := []string{"MSH|^~\\&|GP|B1|JUNCTION|NIMS|20240910101010||VXU^V04|V-1|P|2.5.1", pidOK,
		"ORC|RE|||||||||||" + strings.Join(providers, "~")}
	for i := 0; i < 2000; i++ {
		vxu = append(vxu, "RXA|0|1|20240910|20240910|08^Hep B^CVX")
	}
	if _, err := c.Convert(msg(vxu...)); !errors.As(err, &fe) || fe.Path != "ORC" {
		t.Errorf("2000 ordering providers copied into 2000 immunizations: err = %v, want a FieldError at ORC", err)
	}
}

func TestLongKeyPartsAreDigested(t *testing.T) {
	short := strings.Repeat("k", maxKeyPart)
	if keyPart(short) != short {
		t.Error("a key part of maxKeyPart bytes was changed")
	}
	long := keyPart(short + "k")
	if !strings.HasPrefix(long, "sha256:") || len(long) != len("sha256:")+64 || long != keyPart(short+"k") {
		t.Errorf("keyPart of a long value = %q, want a stable sha256: digest", long)
	}
	// A long MSH-10 still gives every resource a distinct id.
	raw := msg(strings.Replace(mshA01, "|E-1|", "|"+strings.Repeat("C", 1000)+"|", 1), pidOK,
		"OBX|1|NM|C^Code^L||1", "OBX|2|NM|C^Code^L||2")
	res, err := Convert(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if obs := resources(t, res, "Observation"); len(obs) != 2 || obs[0]["id"] == obs[1]["id"] {
		t.Errorf("got %d Observations with ids %v, want 2 distinct", len(obs), obs)
	}
}

// A hostile message of 5,000 bad 1 KB values keeps maxWarnings warnings and one
// saying how many more there were, each value cut to maxWarningValue bytes.
func TestWarningsAreBoundedWhateverTheMessage(t *testing.T) {
	bad := strings.Repeat("x", 1000)
	raw := msg(mshORU, "PID|1||4857773456^^^NHS^NH||PATEL^Ravi", strings.Repeat("OBX|1|NM|C^Code^L||"+bad+"\r", 5000))
	res, err := Convert(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != maxWarnings+1 {
		t.Fatalf("got %d warnings, want %d", len(res.Warnings), maxWarnings+1)
	}
	if last := res.Warnings[maxWarnings].Error(); last != "message: has 4000 more warnings, not listed (expected at most 1000 warnings are kept per message)" {
		t.Errorf("last warning: %s", last)
	}
	if v := res.Warnings[0].Value; len(v) > maxWarningValue+3 {
		t.Errorf("a warning keeps a %d-byte value", len(v))
	}
}
