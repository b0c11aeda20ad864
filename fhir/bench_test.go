package fhir

import "testing"

// BenchmarkValidateSeedBundle validates the Care Gateway seed bundle against the 1.0.4
// packages, with the validator built once as in production.
func BenchmarkValidateSeedBundle(b *testing.B) {
	v := validator104(b)
	data := readFile(b, seedPath)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		oo, err := v.Validate(data, Options{Profiles: []string{reportURL}})
		if err != nil || oo.HasError() {
			b.Fatal(err, dump(oo))
		}
	}
}

// BenchmarkValidateSeedBundleParallel runs validations on all cores (GOMAXPROCS).
func BenchmarkValidateSeedBundleParallel(b *testing.B) {
	v := validator104(b)
	data := readFile(b, seedPath)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Validate(data, Options{Profiles: []string{reportURL}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewValidator is the start-up cost: core definitions, packages, profile compilation.
func BenchmarkNewValidator(b *testing.B) {
	pkgs := loadPackages(b, "hl7.fhir.dk.kl.gateway.care#1.0.4", "dk.fhir.ig.kl.common.caresocial#0.7.0", "hl7.fhir.dk.core#1.1.0")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewValidator(pkgs...); err != nil {
			b.Fatal(err)
		}
	}
}
