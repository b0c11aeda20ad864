package hl7tofhir

import (
	"encoding/json"
	"strings"
	"testing"
)

// Segment-level tests for the order, pharmacy and document mappings. Each
// case converts a small message and compares the elements it names with
// the IG's mapping (other elements are not compared).

const (
	ordPID = "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M"
	ordPV1 = "PV1|1|O|OPD1^^^LEEDS||||||||||||||||V449000^^^LEEDS^VN"
	ordDr  = "G1234567^HUSSAIN^AMIR^^^DR"
)

func mshOf(kind, version string) string {
	return "MSH|^~\\&|EPR|LEEDS|LIMS|LEEDSPATH|20240610091500||" + kind + "|CTL-1|P|" + version
}

// convertOrder converts the segments as one message (fatal on a refusal)
// and checks the Bundle is valid FHIR.
func convertOrder(t *testing.T, segs ...string) *Result {
	t.Helper()
	res := convertUnchecked(t, segs...)
	checkFHIR(t, res.JSON())
	return res
}

// convertUnchecked is convertOrder without the FHIR check, for messages that
// lack what a required element needs.
func convertUnchecked(t *testing.T, segs ...string) *Result {
	t.Helper()
	c, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Convert([]byte(strings.Join(segs, "\r") + "\r"))
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return res
}

// ordResources returns the Bundle's resources of type rtype, as JSON values.
func ordResources(t *testing.T, res *Result, rtype string) []map[string]any {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.JSON(), &b); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == rtype {
			out = append(out, e.Resource)
		}
	}
	return out
}

// only returns the one resource of type rtype.
func only(t *testing.T, res *Result, rtype string) map[string]any {
	t.Helper()
	rs := ordResources(t, res, rtype)
	if len(rs) != 1 {
		t.Fatalf("want one %s, got %d", rtype, len(rs))
	}
	return rs[0]
}

// expectElements compares the elements of want (a JSON object) with got's;
// "absent" as a value means got must not have the element.
func expectElements(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	for k, wv := range w {
		gv, ok := got[k]
		if wv == "absent" {
			if ok {
				t.Errorf("%s: unexpected %s", k, brief(gv))
			}
			continue
		}
		if !ok {
			t.Errorf("%s: missing, want %s", k, brief(wv))
			continue
		}
		if d := diffValue(k, gv, wv); d != "" {
			t.Error(d)
		}
	}
}

// expectWarnings checks that the conversion warned about exactly these
// elements (FieldError paths), in order.
func expectWarnings(t *testing.T, res *Result, paths ...string) {
	t.Helper()
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.Path)
	}
	if strings.Join(got, ",") != strings.Join(paths, ",") {
		t.Errorf("warnings %v, want at %v", res.Warnings, paths)
	}
}

func TestAnORCGivesTheServiceRequestTheStatusTheIGMapsFromORC5ElseORC1(t *testing.T) {
	tests := []struct {
		orc, want string
		warnings  []string
	}{
		{"ORC|NW|P1^EPR|||||||20240610091200", `{"status":"active","intent":"order","authoredOn":"2024-06-10T09:12:00+01:00"}`, nil},
		{"ORC|NW|P1^EPR|||CM", `{"status":"completed"}`, nil},
		{"ORC|SC|P1^EPR|||IP||||20240610091200", `{"status":"active","authoredOn":"absent"}`, nil},
		{"ORC|DC|P1^EPR", `{"status":"revoked"}`, nil},
		{"ORC|CA|P1^EPR", `{"status":"active"}`, nil}, // a cancel request: the IG keeps it active until ORC-5 says CA
		{"ORC|OH|P1^EPR", `{"status":"on-hold"}`, nil},
		{"ORC|SN|P1^EPR", `{"status":"unknown"}`, nil},
		{"ORC|NW|P1^EPR|||ZZ", `{"status":"active"}`, []string{"ORC-5"}},
		{"ORC|QQ|P1^EPR", `{"status":"unknown"}`, []string{"ORC-1"}},
		{"ORC|NW|P1^EPR|||||||2024-06-10", `{"status":"active","authoredOn":"absent"}`, []string{"ORC-9"}},
	}
	for _, tt := range tests {
		t.Run(tt.orc, func(t *testing.T) {
			res := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, tt.orc, "OBR|1|||24331-1^Lipid panel^LN")
			expectElements(t, only(t, res, "ServiceRequest"), tt.want)
			expectWarnings(t, res, tt.warnings...)
		})
	}
}

func TestAPharmacyORCGivesTheMedicationRequestTheNarrowerMedicationStatus(t *testing.T) {
	tests := []struct{ orc, want string }{
		{"ORC|NW|RX1^EPMA", "active"},
		{"ORC|DC|RX1^EPMA", "stopped"},
		{"ORC|CA|RX1^EPMA|||CA", "cancelled"},
		{"ORC|OC|RX1^EPMA", "cancelled"},
		{"ORC|HD|RX1^EPMA|||HD", "on-hold"},
		{"ORC|SC|RX1^EPMA|||CM", "completed"},
	}
	for _, tt := range tests {
		t.Run(tt.orc, func(t *testing.T) {
			res := convertOrder(t, mshOf("RDE^O11", "2.5.1"), ordPID, tt.orc, "RXE||322236009^Paracetamol 500mg tablet^SCT|1000||mg^^UCUM")
			expectElements(t, only(t, res, "MedicationRequest"), `{"status":"`+tt.want+`","intent":"order"}`)
		})
	}
}

func TestACancelOfAnOrderUpdatesTheServiceRequestTheNewOrderMade(t *testing.T) {
	newOrder := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, "ORC|NW|ORD1^EPR", "OBR|1|ORD1^EPR||24331-1^Lipid panel^LN")
	cancel := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, "ORC|CA|ORD1^EPR|FIL9^LIMS||CA", "OBR|1|ORD1^EPR|FIL9^LIMS|24331-1^Lipid panel^LN")
	numbersInOBROnly := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, "ORC|NW", "OBR|1|ORD1^EPR||24331-1^Lipid panel^LN")
	a, b, c := only(t, newOrder, "ServiceRequest"), only(t, cancel, "ServiceRequest"), only(t, numbersInOBROnly, "ServiceRequest")
	if a["id"] != b["id"] || a["id"] != c["id"] {
		t.Errorf("ServiceRequest ids %v, %v, %v: want one id, keyed by the placer number", a["id"], b["id"], c["id"])
	}
	expectElements(t, b, `{"status":"revoked"}`)
	expectElements(t, c, `{"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]},"system":"urn:junction:id:EPR","value":"ORD1"}]}`)
}

func TestAnOBRFillsTheServiceRequestOfItsORCAsTheIGMapsIt(t *testing.T) {
	res := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID,
		"ORC|NW|ORD1^EPR|||||||||"+ordDr,
		"OBR|1|ORD1^EPR||71045^Chest X-ray^C4|S|20240611090000|||||G|||||C3456789^OKAFOR^NGOZI|||||||||||||||R05^Cough^I10|||||||||||||||MOBILE^Portable^L")
	sr := only(t, res, "ServiceRequest")
	expectElements(t, sr, `{
		"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"71045","display":"Chest X-ray"}]},
		"priority":"stat","intent":"reflex-order","occurrenceDateTime":"2024-06-11T09:00:00+01:00",
		"reasonCode":[{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"R05","display":"Cough"}]}],
		"orderDetail":[{"coding":[{"code":"MOBILE","display":"Portable"}]}]}`)
	if len(ordResources(t, res, "Practitioner")) != 1 {
		t.Errorf("OBR-16 became a requester although ORC-12 names one")
	}
}

func TestASecondOBRUnderOneORCIsAServiceRequestOfItsOwn(t *testing.T) {
	res := convertOrder(t, mshOf("OML^O21", "2.6"), ordPID, "ORC|NW|ORD1^EPR",
		"OBR|1|ORD1^EPR||24331-1^Lipid panel^LN", "OBR|2|ORD2^EPR||2093-3^Cholesterol^LN")
	srs := ordResources(t, res, "ServiceRequest")
	if len(srs) != 2 {
		t.Fatalf("got %d ServiceRequests, want 2", len(srs))
	}
	expectElements(t, srs[1], `{"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]},"system":"urn:junction:id:EPR","value":"ORD2"}]}`)
	expectWarnings(t, res)
}

func TestTQ1GivesTheRequestItsTiming(t *testing.T) {
	res := convertOrder(t, mshOf("OML^O21", "2.6"), ordPID, "ORC|NW|ORD1^EPR",
		"TQ1|1|2^mL&millilitre&UCUM|Q4H^Every 4 hours^HL70335|0930~1330|||20240611080000|20240612080000|A^ASAP^HL70485||Before meals|||4",
		"OBR|1|ORD1^EPR||24331-1^Lipid panel^LN|R|20240611080000")
	expectElements(t, only(t, res, "ServiceRequest"), `{
		"quantityQuantity":{"value":2,"unit":"millilitre","system":"http://unitsofmeasure.org","code":"mL"},
		"occurrenceTiming":{"repeat":{"boundsPeriod":{"start":"2024-06-11T08:00:00+01:00","end":"2024-06-12T08:00:00+01:00"},"count":4,"timeOfDay":["09:30:00","13:30:00"]},
			"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0335","code":"Q4H","display":"Every 4 hours"}]}},
		"occurrenceDateTime":"absent","priority":"asap","note":[{"text":"Before meals"}]}`)
}

func TestABadTQ1ValueIsAWarningAndTheRestConverts(t *testing.T) {
	res := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, "ORC|NW|ORD1^EPR",
		"TQ1|1|||25:00|||||X^Whenever|||||-2", "OBR|1|ORD1^EPR||24331-1^Lipid panel^LN")
	expectWarnings(t, res, "TQ1-14", "TQ1-4", "TQ1-9")
	expectElements(t, only(t, res, "ServiceRequest"), `{"priority":"absent","occurrenceTiming":"absent","status":"active"}`)
}

func TestSPMIsASpecimenOfTheServiceRequestOrTheReport(t *testing.T) {
	spm := "SPM|1|S1&EPR||119297000^Blood specimen^SCT|||||||||||||20240612104500^20240612105000|||N||||||||||ACC1^^^LIMS^ACSN"
	res := convertOrder(t, mshOf("OML^O21", "2.6"), ordPID, "ORC|NW|ORD1^EPR", "OBR|1|ORD1^EPR||600-7^Blood culture^LN", spm)
	sp := only(t, res, "Specimen")
	expectElements(t, sp, `{"status":"unavailable",
		"collection":{"collectedPeriod":{"start":"2024-06-12T10:45:00+01:00","end":"2024-06-12T10:50:00+01:00"}},
		"accessionIdentifier":{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"ACSN"}]},"system":"urn:junction:id:LIMS:acsn","value":"ACC1"}}`)
	sr := only(t, res, "ServiceRequest")
	if refs, _ := sr["specimen"].([]any); len(refs) != 1 {
		t.Errorf("ServiceRequest.specimen %v, want the Specimen", sr["specimen"])
	}

	oru := convertOrder(t, mshOf("ORU^R01", "2.5.1"), ordPID, "OBR|1|ORD1^EPR|F1^LIMS|600-7^Blood culture^LN|||20240612104500",
		"OBX|1|CWE|600-7^Organism^LN||3092008^Staphylococcus aureus^SCT||||||F", strings.Replace(spm, "|N|", "|Q|", 1))
	dr := only(t, oru, "DiagnosticReport")
	if refs, _ := dr["specimen"].([]any); len(refs) != 1 {
		t.Errorf("DiagnosticReport.specimen %v, want the Specimen", dr["specimen"])
	}
	expectWarnings(t, oru, "SPM-20")
}

func TestNTEIsANoteOfWhatItFollows(t *testing.T) {
	res := convertOrder(t, mshOf("OML^O21", "2.6"), ordPID,
		"NTE|1||About the patient", "ORC|NW|ORD1^EPR", "NTE|1||About the order||"+ordDr+"|20240610090000",
		"OBR|1|ORD1^EPR||24331-1^Lipid panel^LN", "NTE|2||Fasting~since midnight",
		"OBX|1|NM|29463-7^Body weight^LN||82.5|kg^^UCUM|||||F", "NTE|1||Weighed in clinic")
	sr := only(t, res, "ServiceRequest")
	notes, _ := sr["note"].([]any)
	if len(notes) != 2 || notes[1].(map[string]any)["text"] != "Fasting\nsince midnight" {
		t.Fatalf("ServiceRequest.note %s", brief(sr["note"]))
	}
	first := notes[0].(map[string]any)
	if first["time"] != "2024-06-10T09:00:00+01:00" || first["authorReference"] == nil {
		t.Errorf("NTE-5/NTE-6 not mapped: %s", brief(first))
	}
	expectElements(t, only(t, res, "Observation"), `{"note":[{"text":"Weighed in clinic"}]}`)
	if len(res.Ignored) != 1 || !strings.HasPrefix(res.Ignored[0], "NTE") {
		t.Errorf("Ignored %v, want the patient's NTE", res.Ignored)
	}
}

func TestRXEAndRXCMakeAMedicationRequestWithACompoundMedication(t *testing.T) {
	res := convertOrder(t, mshOf("RDE^O11", "2.5.1"), ordPID, "ORC|NW|RX9^EPMA",
		"RXE||CMP1^Morphine in saline infusion^L|10|20|mg^^UCUM|||||1|BAG^bag^L|x|||||||||||2|mL/h^^UCUM",
		"RXR|IV^Intravenous^HL70162|LA^Left arm^HL70163||IVP^IV push^HL70165",
		"RXC|B|0.9NACL^Sodium chloride 0.9%^L|100|mL^^UCUM", "RXC|A|MORPH^Morphine sulfate^L|1|mg^^UCUM")
	mr := only(t, res, "MedicationRequest")
	expectElements(t, mr, `{"dosageInstruction":[{
		"doseAndRate":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/dose-rate-type","code":"ordered","display":"Ordered"}]},
			"doseRange":{"low":{"value":10,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},"high":{"value":20,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}},
			"rateQuantity":{"value":2,"unit":"mL/h","system":"http://unitsofmeasure.org","code":"mL/h"}}],
		"route":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0162","code":"IV","display":"Intravenous"}]},
		"site":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0163","code":"LA","display":"Left arm"}]},
		"method":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0165","code":"IVP","display":"IV push"}]}}],
		"dispenseRequest":{"quantity":{"value":1,"unit":"bag"}}}`)
	expectElements(t, only(t, res, "Medication"), `{"ingredient":[
		{"itemCodeableConcept":{"coding":[{"code":"0.9NACL","display":"Sodium chloride 0.9%"}]},"isActive":true,
			"strength":{"numerator":{"value":100,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL"},"denominator":{"value":1}}},
		{"itemCodeableConcept":{"coding":[{"code":"MORPH","display":"Morphine sulfate"}]},"isActive":false,
			"strength":{"numerator":{"value":1,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},"denominator":{"value":1}}}]}`)
	expectWarnings(t, res, "RXE-12")
}

func TestRXEAfterRXOReplacesTheDoseRatherThanAddingASecond(t *testing.T) {
	res := convertOrder(t, mshOf("RDE^O11", "2.5.1"), ordPID, "ORC|NW|RX9^EPMA",
		"RXO|322236009^Paracetamol 500mg tablet^SCT|500|1000|mg^^UCUM",
		"RXE||322236009^Paracetamol 500mg tablet^SCT|1000||mg^^UCUM")
	mr := only(t, res, "MedicationRequest")
	dr := mr["dosageInstruction"].([]any)[0].(map[string]any)["doseAndRate"].([]any)[0].(map[string]any)
	if dr["doseRange"] != nil || dr["doseQuantity"] == nil {
		t.Errorf("doseAndRate %s, want RXE's doseQuantity only", brief(dr))
	}
	if n := len(ordResources(t, res, "Medication")); n != 1 {
		t.Errorf("got %d Medications, want the order's one", n)
	}
}

func TestASpecimenBeforeAnyOrderLeavesTheReportAndImmunizationMappingsAlone(t *testing.T) {
	spm := "SPM|1|S1&EPR||119297000^Blood specimen^SCT"
	oru := convertOrder(t, mshOf("ORU^R01", "2.5.1"), ordPID, spm, "OBR|1|ORD1^EPR|F1^LIMS|600-7^Blood culture^LN|||20240612104500",
		"OBX|1|ST|600-7^Organism^LN||No growth||||||F")
	only(t, oru, "DiagnosticReport")
	vxu := convertOrder(t, mshOf("VXU^V04", "2.5.1"), ordPID, spm, "TXA|1", "RXA|0|1|20240610||08^HepB^CVX|0.5|mL^^UCUM")
	only(t, vxu, "Immunization")
}

func TestTheTQOfAV23OrderGivesTheTimingWhenNoTQ1Does(t *testing.T) {
	res := convertOrder(t, mshOf("ORM^O01", "2.3"), ordPID,
		"ORC|NW|ORD1^EPR|||||1^Q6H^^20240611080000^20240612080000^S^^Call ward first^^^^4",
		"OBR|1|ORD1^EPR||24331-1^Lipid panel^LN|R||||||||||||||||||||||1^^^20250101")
	expectElements(t, only(t, res, "ServiceRequest"), `{"priority":"stat","quantityQuantity":{"value":1},
		"occurrenceTiming":{"repeat":{"boundsPeriod":{"start":"2024-06-11T08:00:00+01:00","end":"2024-06-12T08:00:00+01:00"},"count":4},
			"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0335","code":"Q6H"}]}},
		"note":[{"text":"Call ward first"}]}`)

	withTQ1 := convertOrder(t, mshOf("ORM^O01", "2.5.1"), ordPID, "ORC|NW|ORD1^EPR|||||^^^20240611080000^^S",
		"TQ1|1||||||20240701090000||R", "OBR|1|ORD1^EPR||24331-1^Lipid panel^LN||||||||||||||||||||||^^^20250101")
	expectElements(t, only(t, withTQ1, "ServiceRequest"), `{"priority":"routine",
		"occurrenceTiming":{"repeat":{"boundsPeriod":{"start":"2024-07-01T09:00:00+01:00"}}}}`)

	rde := convertOrder(t, mshOf("RDE^O11", "2.4"), ordPID, "ORC|NW|RX1^EPMA",
		"RXE|^BID^^20240611080000^^R|322236009^Paracetamol 500mg tablet^SCT|1000||mg^^UCUM")
	mr := only(t, rde, "MedicationRequest")
	expectElements(t, mr["dosageInstruction"].([]any)[0].(map[string]any), `{"timing":{"repeat":{"boundsPeriod":{"start":"2024-06-11T08:00:00+01:00"}},
		"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0335","code":"BID"}]}}}`)
	expectElements(t, mr, `{"priority":"routine"}`)
}

// R4 requires MedicationRequest.medication[x], so an ORC with no RXE or RXO
// makes none (and the Bundle stays valid).
func TestAPharmacyOrderWithoutRXEIsLeftOutWithAWarningNamingTheMissingMedication(t *testing.T) {
	res := convertOrder(t, mshOf("RDE^O11", "2.5.1"), ordPID, "ORC|NW|RX1^EPMA", "NTE|1||No drug named")
	expectWarnings(t, res, "ORC")
	if mr := ordResources(t, res, "MedicationRequest"); len(mr) != 0 {
		t.Errorf("MedicationRequests %v, want none", mr)
	}
}
