package fhir

import (
	"strconv"
	"testing"
	"time"
)

// Scale: a value set over a large code system is compiled without enumerating the codes,
// and asking for one code costs the depth of the hierarchy, not the size of the system.

func largeTerminology(t testing.TB, groups, perGroup int) *Validator {
	t.Helper()
	const sys = "http://junction.example/fhir/CodeSystem/large"
	cs := &CodeSystem{ResourceType: "CodeSystem", URL: sys, Content: "complete"}
	for g := 0; g < groups; g++ {
		c := concept{Code: "g" + strconv.Itoa(g)}
		for i := 0; i < perGroup; i++ {
			c.Concept = append(c.Concept, concept{Code: c.Code + "." + strconv.Itoa(i)})
		}
		cs.Concept = append(cs.Concept, c)
	}
	vs := &ValueSet{ResourceType: "ValueSet", URL: "http://junction.example/fhir/ValueSet/large-g7"}
	vs.Compose = &struct {
		Include []vsInclude `json:"include"`
		Exclude []vsInclude `json:"exclude"`
	}{}
	inc := vsInclude{System: sys}
	inc.Filter = append(inc.Filter, struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	}{"concept", "is-a", "g7"})
	vs.Compose.Include = append(vs.Compose.Include, inc)
	v, err := NewValidator(&Package{Name: "large", codeSystems: []*CodeSystem{cs}, valueSets: []*ValueSet{vs}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAskingForOneCodeDoesNotGrowWithTheCodeSystem(t *testing.T) {
	v := largeTerminology(t, 500, 200) // 100 500 concepts
	const sys = "http://junction.example/fhir/CodeSystem/large"
	start := time.Now()
	exp := v.term.expand("http://junction.example/fhir/ValueSet/large-g7", nil)
	if in, known := exp.contains(sys, "g7.150"); !in || !known {
		t.Fatalf("g7.150: in %v known %v", in, known)
	}
	t.Logf("index and compile of 100 500 concepts: %v", time.Since(start))
	if in, _ := exp.contains(sys, "g8.150"); in {
		t.Errorf("g8.150 is not below g7")
	}
	allocs := testing.AllocsPerRun(100, func() { exp.contains(sys, "g7.199") })
	if allocs > 10 {
		t.Errorf("one check allocates %.0f times, want a handful", allocs)
	}
}

func BenchmarkCheckingACodeInALargeCodeSystem(b *testing.B) {
	v := largeTerminology(b, 1000, 200)
	exp := v.term.expand("http://junction.example/fhir/ValueSet/large-g7", nil)
	const sys = "http://junction.example/fhir/CodeSystem/large"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exp.contains(sys, "g7.150")
	}
}
