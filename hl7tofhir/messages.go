package hl7tofhir

// messageKinds are the supported MSH-9 values. Person-level events (A28,
// A31, A40) carry a placeholder PV1, so they make no Encounter.
var messageKinds = map[string]struct {
	encounter bool // map PV1/PV2 to an Encounter
}{
	"ADT^A01": {true}, "ADT^A02": {true}, "ADT^A03": {true}, "ADT^A04": {true},
	"ADT^A05": {true}, "ADT^A06": {true}, "ADT^A07": {true}, "ADT^A08": {true},
	"ADT^A09": {true}, "ADT^A10": {true}, "ADT^A11": {true}, "ADT^A12": {true}, "ADT^A13": {true},
	"ADT^A17": {true}, "ADT^A60": {true}, // adt_events.go: A17 swaps two PID/PV1 pairs; A60 IAM (adt_iam.go) or AL1
	"ADT^A28": {false}, "ADT^A31": {false}, "ADT^A34": {false}, "ADT^A39": {false}, "ADT^A40": {false}, // merges: adt_events.go
	"ORU^R01": {true}, "VXU^V04": {true},
	// Scheduling (siu.go): SCH and its resources; PV1 when sent.
	"SIU^S12": {true}, "SIU^S13": {true}, "SIU^S14": {true}, "SIU^S15": {true}, "SIU^S16": {true},
	"SIU^S17": {true}, "SIU^S18": {true}, "SIU^S19": {true}, "SIU^S20": {true}, "SIU^S21": {true},
	"SIU^S22": {true}, "SIU^S26": {true},
	// Financial (dft.go, bar.go).
	"DFT^P03": {true}, "BAR^P01": {true}, "BAR^P12": {true},
	// Orders, results, pharmacy, documents (orm.go, rxe.go, txa.go): PV1 when sent.
	"ORM^O01": {true}, "OML^O21": {true}, "ORU^R03": {true}, "RDE^O11": {true},
	"MDM^T01": {true}, "MDM^T02": {true}, "MDM^T03": {true}, "MDM^T04": {true}, "MDM^T05": {true},
	"MDM^T06": {true}, "MDM^T07": {true}, "MDM^T08": {true}, "MDM^T09": {true}, "MDM^T10": {true},
	"MDM^T11": {true},
}

const supportedKinds = "ADT^A01 to ADT^A13, ADT^A17, ADT^A28, ADT^A31, ADT^A34, ADT^A39, ADT^A40, ADT^A60, ORU^R01, VXU^V04, SIU^S12 to SIU^S22, SIU^S26, DFT^P03, BAR^P01, BAR^P12, ORM^O01, OML^O21, ORU^R03, RDE^O11 or MDM^T01 to MDM^T11"
