package hl7tofhir_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/fhir"
)

// Every scheduling and financial golden conversion is valid FHIR R4, as
// the Bundle gateway's validator sees it.
func TestSchedulingGoldenBundlesValidateAgainstR4(t *testing.T) {
	v, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/scheduling/*.json")
	if len(files) == 0 {
		t.Fatal("no golden Bundles in testdata/scheduling")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		oo, err := v.Validate(data, fhir.Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, i := range oo.Issue {
			if i.Severity == fhir.SeverityError || i.Severity == fhir.SeverityFatal {
				t.Errorf("%s: %s at %s", filepath.Base(f), i.Diagnostics, strings.Join(i.Location, " "))
			}
		}
	}
}
