package hl7tofhir

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Order, pharmacy and document messages convert in time linear in their
// size: the work (bytes allocated, which unlike time is deterministic) at 8N
// segments is about 8 times that at N, whatever the shape of the groups.

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// orderShapes build messages of about n segments.
var orderShapes = map[string]func(n int) []byte{
	// n/6 order groups of ORC, TQ1, OBR, NTE, SPM, OBX.
	"ORM groups": func(n int) []byte {
		var b strings.Builder
		b.WriteString(mshOf("ORM^O01", "2.5.1") + "\r" + ordPID + "\r" + ordPV1 + "\r")
		for i := 0; i < n/6; i++ {
			id := strconv.Itoa(i)
			b.WriteString("ORC|NW|ORD" + id + "^EPR||||||||20240610091200|||" + ordDr + "\rTQ1|1||||||20240611080000|||R\r" +
				"OBR|1|ORD" + id + "^EPR||24331-1^Lipid panel^LN\rNTE|1||Fasting\rSPM|1|S" + id + "&EPR||119297000^Blood^SCT\r" +
				"OBX|1|NM|29463-7^Body weight^LN||82.5|kg^^UCUM|||||F\r")
		}
		return []byte(b.String())
	},
	// One ORC whose timing runs to n TQ1 before its OBR (the ORC looks past them).
	"ORC with many TQ1": func(n int) []byte {
		var b strings.Builder
		b.WriteString(mshOf("OML^O21", "2.6") + "\r" + ordPID + "\rORC|NW\r")
		for i := 0; i < n; i++ {
			b.WriteString("TQ1|" + strconv.Itoa(i) + "||||||20240611080000\r")
		}
		b.WriteString("OBR|1|ORD1^EPR||24331-1^Lipid panel^LN\r")
		return []byte(b.String())
	},
	// One ORC with n OBR under it, each a ServiceRequest, and n NTE.
	"ORC with many OBR": func(n int) []byte {
		var b strings.Builder
		b.WriteString(mshOf("ORM^O01", "2.5.1") + "\r" + ordPID + "\rORC|NW|" + strings.Repeat("P", 5000) + "^EPR\r")
		for i := 0; i < n/2; i++ {
			b.WriteString("OBR|1|ORD" + strconv.Itoa(i) + "^EPR||24331-1^Lipid panel^LN\rNTE|1||note\r")
		}
		return []byte(b.String())
	},
	// A document of n text lines, with NTE among them.
	"MDM with many lines": func(n int) []byte {
		var b strings.Builder
		b.WriteString(mshOf("MDM^T02^MDM_T02", "2.5.1") + "\r" + ordPID + "\r" + txaFor("AU", "AV") + "\r")
		for i := 0; i < n; i++ {
			if i%10 == 9 {
				b.WriteString("NTE|1||remark\r")
				continue
			}
			b.WriteString("OBX|" + strconv.Itoa(i) + "|TX|11488-4^Consult note^LN||Line " + strconv.Itoa(i) + " of the letter||||||F\r")
		}
		return []byte(b.String())
	},
	// n/4 pharmacy orders of ORC, RXE, RXR, RXC.
	"RDE orders": func(n int) []byte {
		var b strings.Builder
		b.WriteString(mshOf("RDE^O11", "2.5.1") + "\r" + ordPID + "\r")
		for i := 0; i < n/4; i++ {
			b.WriteString("ORC|NW|RX" + strconv.Itoa(i) + "^EPMA\rRXE||322236009^Paracetamol^SCT|1000||mg^^UCUM\r" +
				"RXR|PO^Oral^HL70162\rRXC|B|X^Base^L|1|mg^^UCUM\r")
		}
		return []byte(b.String())
	},
}

func TestOrderMessagesConvertInWorkLinearInTheirSize(t *testing.T) {
	if testing.Short() {
		t.Skip("converts messages of 32,000 segments")
	}
	c, err := NewConverter(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4_000
	for name, build := range orderShapes {
		t.Run(name, func(t *testing.T) {
			small, large := build(n), build(8*n)
			work := func(raw []byte) uint64 {
				return bytesAllocated(func() {
					res, err := c.Convert(raw)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := res.Bundle.MarshalJSON(); err != nil {
						t.Fatal(err)
					}
				})
			}
			ws, wl := work(small), work(large)
			ratio := float64(wl) / float64(ws)
			t.Logf("work at 8N / work at N: %.2f", ratio)
			if ratio > 10 {
				t.Errorf("8 times the segments took %.1f times the work (%d vs %d bytes): not linear", ratio, wl, ws)
			}
		})
	}
}

func TestAnORMOf100kSegmentsConverts(t *testing.T) {
	if testing.Short() {
		t.Skip("converts a 100,000-segment message")
	}
	c, _ := NewConverter(Options{})
	res, err := c.Convert(orderShapes["ORM groups"](100_000))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Bundle.Get("entry").([]any)); n < 3*16_000 {
		t.Errorf("got %d entries, want a ServiceRequest, Specimen and Observation per order", n)
	}
}

// TestDamagedOrderMessagesConvertWithoutPanicking sets each of the first 32
// fields of every segment after MSH in the order goldens to odd values: each
// message still converts (or is refused with an error), never panics.
func TestDamagedOrderMessagesConvertWithoutPanicking(t *testing.T) {
	if testing.Short() {
		t.Skip("converts some 20,000 messages")
	}
	files, _ := filepath.Glob("testdata/orders/*.hl7")
	c, _ := NewConverter(goldenOptions(t))
	odd := []string{"", `""`, "^~\\&", "ZZ^^^&&", "99999999999999999999.5^X^Y^Z^1^2^3^4^5^6^7^8^9", "\\"}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		segs := strings.Split(strings.TrimRight(string(raw), "\r"), "\r")
		for i := 1; i < len(segs); i++ {
			fields := strings.Split(segs[i], "|")
			for fi := 1; fi <= 32; fi++ {
				for _, v := range odd {
					fs := append([]string(nil), fields...)
					for len(fs) <= fi {
						fs = append(fs, "")
					}
					fs[fi] = v
					damaged := append(append(append([]string(nil), segs[:i]...), strings.Join(fs, "|")), segs[i+1:]...)
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Fatalf("%s, segment %d field %d = %q: panic %v", f, i+1, fi, v, p)
							}
						}()
						if res, err := c.Convert([]byte(strings.Join(damaged, "\r"))); err == nil {
							res.JSON()
						}
					}()
				}
			}
		}
	}
}
