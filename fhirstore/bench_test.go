package fhirstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

// admitBundle is hl7tofhir's A01 with 19 resources (Patient, Encounter, practitioners,
// locations, an organisation, related persons, observations, allergies, conditions,
// provenance) and the ids of its entries.
func admitBundle(b *testing.B) ([]byte, []string) {
	bundle := testMessage(b, "adt_a01_admit_nhs.hl7")
	var v struct {
		Entry []struct{ Resource struct{ ID string } }
	}
	if err := json.Unmarshal(bundle, &v); err != nil {
		b.Fatal(err)
	}
	if len(v.Entry) != 19 {
		b.Fatalf("the admit bundle has %d entries, want 19", len(v.Entry))
	}
	ids := make([]string, len(v.Entry))
	for i, e := range v.Entry {
		ids[i] = e.Resource.ID
	}
	return bundle, ids
}

// renamed gives every entry of bundle a new id (and the patient a new NHS number), so
// applying it creates 19 resources.
func renamed(bundle []byte, ids []string, n int) []byte {
	for _, id := range ids {
		bundle = bytes.ReplaceAll(bundle, []byte(id), []byte(fmt.Sprintf("%s-%d", id, n)))
	}
	return bundle
}

func BenchmarkApplyADT(b *testing.B) {
	bundle, ids := admitBundle(b)
	ctx := context.Background()
	b.Run("create", func(b *testing.B) {
		s := openStore(b)
		bundles := make([][]byte, b.N)
		for i := range bundles {
			bundles[i] = renamed(bundle, ids, i)
		}
		b.SetBytes(int64(len(bundle)))
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Apply(ctx, bundles[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ids)), "µs/resource")
	})
	b.Run("unchanged", func(b *testing.B) {
		s := openStore(b)
		if _, err := s.Apply(ctx, bundle); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(bundle)))
		b.ResetTimer()
		for range b.N {
			if _, err := s.Apply(ctx, bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSearch searches a store of 1,000 admissions (19,000 resources).
func BenchmarkSearch(b *testing.B) {
	bundle, ids := admitBundle(b)
	s := openStore(b)
	ctx := context.Background()
	const admissions = 1000
	for i := range admissions {
		if _, err := s.Apply(ctx, renamed(bundle, ids, i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []struct{ name, rtype, query string }{
		{"id", "Patient", "_id=9434765919-500"},
		{"identifier", "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919-500"},
		{"family-page-of-1000", "Patient", "family=o'b&_count=20"},
		{"birthdate-and-gender", "Patient", "birthdate=1962-02-13&gender=female&_count=20"},
		{"observations-of-patient", "Observation", "patient=9434765919-500&code=http://snomed.info/sct|27113001"},
		{"encounter-date", "Encounter", "date=ge2024-06-12&_count=20"},
	} {
		params, err := url.ParseQuery(q.query)
		if err != nil {
			b.Fatal(err)
		}
		page, err := s.Search(ctx, q.rtype, params)
		if err != nil || len(page.Resources) == 0 {
			b.Fatalf("%s?%s: %v, %d found", q.rtype, q.query, err, len(page.Resources))
		}
		b.Run(q.name, func(b *testing.B) {
			for range b.N {
				if _, err := s.Search(ctx, q.rtype, params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("read", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.Read(ctx, "Patient", fmt.Sprintf("9434765919-%d", i%admissions)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("identifier-parallel", func(b *testing.B) {
		params := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|9434765919-500"}}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Search(ctx, "Patient", params); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
