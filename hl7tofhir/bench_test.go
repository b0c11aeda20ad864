package hl7tofhir

import (
	"os"
	"runtime"
	"testing"
)

func benchmarkFile(b *testing.B, name string) {
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewConverter(goldenOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Convert(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = res.JSON()
	}
}

// BenchmarkConvertADT converts an ADT^A01 with 16 segments (18 resources)
// and renders the Bundle JSON.
func BenchmarkConvertADT(b *testing.B) { benchmarkFile(b, "adt_a01_admit_nhs.hl7") }

// BenchmarkConvertORU converts an ORU^R01 with 10 OBX of 8 value types.
func BenchmarkConvertORU(b *testing.B) { benchmarkFile(b, "oru_r01_lab.hl7") }

// BenchmarkConvert100kSegments converts an 8.6 MB ORU^R01 of 100,000
// segments (99,995 OBX) and renders the Bundle as toFHIR() does. It reports
// MB/s of message, and two memory figures per byte of message: alloc/body
// (bytes allocated per conversion) and peak/body (the heap a conversion
// holds at its end: the parsed message, the Bundle's objects and its JSON).
func BenchmarkConvert100kSegments(b *testing.B) { benchmarkLarge(b, largeORU(100_000-5)) }

// BenchmarkConvert9MBField converts an ORU^R01 whose one OBX-5 is 9 MB of
// text, with the same figures.
func BenchmarkConvert9MBField(b *testing.B) { benchmarkLarge(b, bigFieldORU(9<<20)) }

func benchmarkLarge(b *testing.B, raw []byte) {
	c, err := NewConverter(Options{})
	if err != nil {
		b.Fatal(err)
	}
	peak := peakPerByte(b, c, raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		convertJSON(b, c, raw)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(raw)), "alloc/body")
	b.ReportMetric(peak, "peak/body")
}

// peakPerByte is the heap one conversion holds when it ends, per byte of
// message: the most it needs at once, give or take garbage not yet collected.
func peakPerByte(b *testing.B, c *Converter, raw []byte) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, out := convertJSON(b, c, raw)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(res)
	runtime.KeepAlive(out)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(raw))
}
