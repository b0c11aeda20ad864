package hl7

import "testing"

func BenchmarkParseGet(b *testing.B) {
	raw := readADT(b)
	nhs, name, id := MustParsePath("PID-3.1"), MustParsePath("PID-5.1"), MustParsePath("MSH-10")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if m.GetPath(nhs) != "0000000000" || m.GetPath(name) == "" || m.GetPath(id) == "" {
			b.Fatal("wrong value")
		}
	}
}

func BenchmarkParseGetString(b *testing.B) {
	raw := readADT(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		v1, _ := m.Get("PID-3.1")
		v2, _ := m.Get("PID-5.1")
		v3, _ := m.Get("MSH-10")
		if v1 != "0000000000" || v2 == "" || v3 == "" {
			b.Fatal("wrong value")
		}
	}
}

func BenchmarkParseSetBytes(b *testing.B) {
	raw := readADT(b)
	name, fac := MustParsePath("PID-5.1"), MustParsePath("MSH-4")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.SetPath(name, "FERNÁNDEZ-GARCÍA"); err != nil {
			b.Fatal(err)
		}
		if err := m.SetPath(fac, "RX1^Leeds"); err != nil {
			b.Fatal(err)
		}
		if len(m.Bytes()) == 0 {
			b.Fatal("empty")
		}
	}
}
