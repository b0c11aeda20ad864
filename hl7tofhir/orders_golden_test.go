package hl7tofhir

import (
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
	checkGoldens(t, "testdata/orders", 9, checkFHIR, true)
}
