package hl7tofhir

import (
	"os"
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
