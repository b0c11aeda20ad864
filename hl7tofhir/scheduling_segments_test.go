package hl7tofhir

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestEachSegmentMapsAsItsIGTableSays converts one segment at a time and
// compares the resource it makes with the elements the IG's segment map
// (or, where the IG has none, the doc comment of the mapping) gives it.
// Only the elements in want are compared; references are left out.
func TestEachSegmentMapsAsItsIGTableSays(t *testing.T) {
	siu, dft, bar := schedf(mshSIU, "S12"), mshDFT, mshBAR
	sch := "SCH|P1^TC|F1^TC|||||FOLLOWUP^Follow up^HL70276|Normal^Normal^HL70277|1|h|^^^20240620143000^20240620153000"
	tests := []struct {
		name  string
		segs  []string
		rtype string
		index int // which resource of rtype
		want  string
	}{
		{"SCH", []string{siu, sch, pidSIU}, "Appointment", 0, `{
			"identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}]}, "system": "urn:junction:id:TC", "value": "P1"},
				{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "FILL"}]}, "system": "urn:junction:id:TC", "value": "F1"}],
			"status": "booked",
			"reasonCode": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "FOLLOWUP", "display": "Follow up"}]}],
			"appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0277", "code": "Normal", "display": "Normal"}]},
			"minutesDuration": 60, "start": "2024-06-20T14:30:00+01:00", "end": "2024-06-20T15:30:00+01:00"}`},
		{"AIS", []string{siu, "SCH|P1^TC|F1^TC", pidSIU, "AIS|1|A|US^Ultrasound^L|20240620090000|||45|min||Pending"}, "Appointment", 0, `{
			"status": "pending", "start": "2024-06-20T09:00:00+01:00", "end": "2024-06-20T09:45:00+01:00",
			"serviceType": [{"coding": [{"code": "US", "display": "Ultrasound"}]}]}`},
		{"AIG", []string{siu, sch, pidSIU, "AIG|1|A|XR2^X-ray room 2^L|ROOM^Room^L||||20240620143000|||30|min||Booked"}, "Appointment", 0, `{
			"participant": [{"status": "accepted"}, {"type": [{"coding": [{"code": "ROOM", "display": "Room"}]}], "status": "accepted",
				"period": {"start": "2024-06-20T14:30:00+01:00", "end": "2024-06-20T15:00:00+01:00"}}]}`},
		{"AIG's location", []string{siu, sch, pidSIU, "AIG|1|A|XR2^X-ray room 2^L|ROOM^Room^L"}, "Location", 0, `{
			"identifier": [{"value": "XR2"}], "name": "X-ray room 2"}`},
		{"AIL", []string{siu, sch, pidSIU, "AIL|1|A|XRAY^XR2^^RX1|||20240620143000|||30|min||Cancelled"}, "Appointment", 0, `{
			"participant": [{"status": "accepted"}, {"status": "declined",
				"period": {"start": "2024-06-20T14:30:00+01:00", "end": "2024-06-20T15:00:00+01:00"}}]}`},
		{"AIP", []string{siu, sch, pidSIU, "AIP|1|A|C7^RAD^Rita^^^DR^^^RX1|SPRF^Secondary performer||20240620143000|||30|min||Waitlist"}, "Appointment", 0, `{
			"participant": [{"status": "accepted"}, {"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
				"code": "SPRF", "display": "secondary performer"}], "text": "Secondary performer"}], "status": "tentative",
				"period": {"start": "2024-06-20T14:30:00+01:00", "end": "2024-06-20T15:00:00+01:00"}}]}`},
		{"FT1", []string{dft, pidDFT, pv1DFT, "FT1|1|T9||20240620|20240701|CG|XR^Chest X-ray^L|||1|40&GBP|40&GBP|||||||Z00.0^Exam^I10|C7^RAD^Rita||||C1^CLERK^Amy|||||NDC1^Contrast^NDC"}, "ChargeItem", 0, `{
			"identifier": [{"value": "T9"}], "status": "billable", "code": {"coding": [{"code": "XR", "display": "Chest X-ray"}]},
			"occurrenceDateTime": "2024-06-20", "quantity": {"value": 1}, "priceOverride": {"value": 40, "currency": "GBP"},
			"enteredDate": "2024-07-01", "reason": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z00.0", "display": "Exam"}]}],
			"productCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "NDC1", "display": "Contrast"}]}}`},
		{"IN1", []string{bar, pidBAR, "IN1|1|GOLD^Gold plan^L|INS1^^^RX1|Insurer^^X|1 Road^^Leeds^^LS1 1AA|||G7|Acme|||20240101|20241231||HMO^HMO^L||SEL^Self^HL70063|||||1||||||||||||||POL-1"}, "Coverage", 0, `{
			"identifier": [{"value": "GOLD"}], "status": "active", "type": {"coding": [{"code": "HMO", "display": "HMO"}]},
			"relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}], "text": "Self"},
			"subscriberId": "POL-1", "period": {"start": "2024-01-01", "end": "2024-12-31"}, "order": 1,
			"class": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}]}, "value": "G7", "name": "Acme"}]}`},
		{"IN1's payor", []string{bar, pidBAR, "IN1|1|GOLD^Gold plan^L|INS1^^^RX1|Insurer^^X|1 Road^^Leeds^^LS1 1AA"}, "Organization", 0, `{
			"identifier": [{"system": "urn:junction:id:RX1", "value": "INS1"}], "name": "Insurer",
			"address": [{"line": ["1 Road"], "city": "Leeds", "postalCode": "LS1 1AA"}]}`},
		{"GT1", []string{bar, pidBAR, "GT1|1|G1^^^RX1|DOE^Jo||2 Road^^York|01904 1^PRN^PH||19700101|F||MTH^Mother^HL70063||20240101"}, "RelatedPerson", 0, `{
			"identifier": [{"system": "urn:junction:id:RX1", "value": "G1"}],
			"relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH", "display": "mother"}], "text": "Mother"}],
			"name": [{"family": "DOE", "given": ["Jo"]}], "telecom": [{"system": "phone", "value": "01904 1", "use": "home"}],
			"gender": "female", "birthDate": "1970-01-01", "address": [{"line": ["2 Road"], "city": "York"}], "period": {"start": "2024-01-01"}}`},
		{"PR1", []string{bar, pidBAR, pv1BAR, "PR1|1||80146002^Appendectomy^SCT||202407020800|S^Surgical^L|45||||||||||||P-1^TH||||WARD7^^^RX1"}, "Procedure", 0, `{
			"identifier": [{"system": "urn:junction:id:TH", "value": "P-1"}], "status": "completed",
			"category": {"coding": [{"code": "S", "display": "Surgical"}]},
			"code": {"coding": [{"system": "http://snomed.info/sct", "code": "80146002", "display": "Appendectomy"}]},
			"performedPeriod": {"start": "2024-07-02T08:00:00+01:00", "end": "2024-07-02T08:45:00+01:00"}}`},
		{"ROL", []string{bar, pidBAR, pv1BAR, "ROL|R1^RX1|AD|RP^Referring^HL70443|C8^REF^Rob^^^^^^RX1|20240701|20240702||||||01132^WPN^PH"}, "PractitionerRole", 0, `{
			"identifier": [{"system": "urn:junction:id:RX1", "value": "R1"}], "period": {"start": "2024-07-01", "end": "2024-07-02"},
			"code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "REF", "display": "referrer"}], "text": "Referring"}],
			"telecom": [{"system": "phone", "value": "01132", "use": "work"}]}`},
		{"ARV", []string{bar, pidBAR, "ARV|1|A|DEM^Demographics^HL70717|REA^Reason|No phone calls||N|NOCOLLECT^no collection||AR-1^RX1"}, "Patient", 0, `{
			"meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0717", "code": "DEM", "display": "Demographics"},
				{"code": "REA", "display": "Reason"}, {"display": "No phone calls"},
				{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}, {"code": "NOCOLLECT", "display": "no collection"}],
				"tag": [{"system": "urn:junction:id:RX1", "code": "AR-1"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := schedConvert(t, tt.segs...)
			for _, w := range res.Warnings {
				t.Errorf("warning: %v", w)
			}
			rs := schedResources(t, res, tt.rtype)
			if len(rs) <= tt.index {
				t.Fatalf("got %d %s, want at least %d", len(rs), tt.rtype, tt.index+1)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("want is not JSON: %v", err)
			}
			if d := subsetDiff("", rs[tt.index], want); d != "" {
				t.Error(d)
			}
		})
	}
}

// subsetDiff describes the first element of want that got lacks or has
// differently: objects are compared on want's keys (references skipped),
// arrays element by element and by length.
func subsetDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want an object", orRoot(path), brief(got))
		}
		for k, wv := range w {
			if d := subsetDiff(path+"."+k, g[k], wv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %s, want %d elements", orRoot(path), brief(got), len(w))
		}
		for i := range w {
			if d := subsetDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: got %s, want %s", orRoot(path), brief(got), brief(want))
	}
	return ""
}
