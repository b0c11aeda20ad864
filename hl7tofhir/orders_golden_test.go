package hl7tofhir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The resources order, pharmacy and document messages make, for checkFHIR:
// the elements R4 requires and the codes bound to required value sets.
func init() {
	required["ServiceRequest"] = []string{"status", "intent", "subject"}
	required["MedicationRequest"] = []string{"status", "intent", "subject", "medicationReference"}
	required["Medication"] = []string{}
	required["Specimen"] = []string{}
	required["DocumentReference"] = []string{"status", "content"}
	requiredCodes["ServiceRequest.status"] = set("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	requiredCodes["MedicationRequest.status"] = set("active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown")
	requiredCodes["Specimen.status"] = set("available", "unavailable", "unsatisfactory", "entered-in-error")
	requiredCodes["DocumentReference.status"] = set("current", "superseded", "entered-in-error")
}

// TestOrderMessagesConvertToTheirGoldenBundles converts each
// testdata/orders/*.hl7 (ORM, OML, ORU^R03, RDE, MDM) and compares the Bundle
// with the .json beside it; -update rewrites them (review the diff).
func TestOrderMessagesConvertToTheirGoldenBundles(t *testing.T) {
	files, _ := filepath.Glob("testdata/orders/*.hl7")
	if len(files) < 9 {
		t.Fatalf("found %d messages in testdata/orders, expected at least 9", len(files))
	}
	conv, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hl7")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := conv.Convert(raw)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			for _, w := range res.Warnings {
				t.Errorf("unexpected warning: %v", w)
			}
			got := res.JSON()
			checkFHIR(t, got)
			want := strings.TrimSuffix(f, ".hl7") + ".json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./hl7tofhir -run TestOrderMessages -update to create it)", err)
			}
			if diff := jsonDiff(t, got, wantJSON); diff != "" {
				t.Errorf("%s differs from %s: %s", name, want, diff)
			}
		})
	}
}
