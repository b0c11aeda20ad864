package hl7tofhir

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// msg joins segments with CR.
func msg(segs ...string) []byte { return []byte(strings.Join(segs, "\r") + "\r") }

const (
	mshA01 = "MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01^ADT_A01|E-1|P|2.4"
	pidOK  = "PID|1||9434765919^^^NHS^NH||DOE^Jane||19800101|F"
	pv1OK  = "PV1|1|I|WARD1^^^RX1||||||||||||||||V1^^^RX1^VN"
)

// TestRefusals checks the exact message of each case that refuses the whole
// message: those whose patient or event cannot be identified.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"no PID", msg(mshA01, "EVN|A01|20240612093015", pv1OK),
			"PID: segment is missing (expected a PID segment: ADT^A01 carries a patient)"},
		{"no patient identifier", msg(mshA01, "PID|1||^^^RX1^MR||DOE^Jane"),
			"PID-3: has no identifier (expected at least one CX with an ID number in CX-1: it keys the Patient)"},
		{"an unsupported message type without a patient", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ZZZ^Z01|E-2|P|2.4", "ZZ1|1"),
			`MSH-9: "ZZZ^Z01" is not a supported message type (expected ` + supportedKinds + ")"},
		{"ACK is not converted", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ACK|E-3|P|2.4", "MSA|AA|E-1"),
			`MSH-9: "ACK" is not a supported message type (expected ` + supportedKinds + ")"},
		{"empty MSH-9", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015|||E-4|P|2.4", pidOK),
			"MSH-9: is empty (expected a message type such as ADT^A01)"},
		{"empty MSH-10", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01|||2.4", pidOK),
			"MSH-10: is empty (expected a message control ID: it identifies the Bundle)"},
		{"not HL7", []byte("hello"),
			`segment 1: expected a message starting with "MSH", got "hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Convert(tt.raw, Options{})
			if err == nil {
				t.Fatalf("Convert succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestWarnings checks each value that does not fit: the warning names the
// element, the value and what was expected, and the rest of the message
// converts (the Bundle has what `has` names, and is valid FHIR).
func TestWarnings(t *testing.T) {
	const mshORU = "MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-10|P|2.5.1"
	const mshVXU = "MSH|^~\\&|GP|B1|JUNCTION|NIMS|20240612093015||VXU^V04|E-16|P|2.5.1"
	tests := []struct {
		name string
		raw  []byte
		want string
		has  []string
	}{
		{"bad birth date", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19801301|F", pv1OK),
			`PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])`,
			[]string{`"gender": "female"`, `"resourceType": "Encounter"`}},
		{"bad admit time", msg(mshA01, pidOK, "PV1|1|I|WARD1^^^RX1|||||||||||||||V1^^^RX1^VN||||||||||||||||||||||||||202406121560|20240613"),
			`PV1-44: "202406121560" is not a valid date/time (expected YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])`,
			[]string{`"end": "2024-06-13"`, `"class"`}},
		{"fraction without seconds", msg(mshA01, pidOK, "PV1|1|I||||||||||||||||||||||||||||||||||||||||||202406121530.5"),
			`PV1-44: "202406121530.5" is not a valid date/time (expected YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])`,
			[]string{`"resourceType": "Encounter"`}},
		{"time in a v2.4 DT field", msg(mshA01, pidOK, "AL1|1|DA|91936005^Allergy to penicillin^SCT|SV||20100501120000"),
			`AL1-6: "20100501120000" has a time of day in a date field: read as its date (expected YYYY[MM[DD]])`,
			[]string{`"criticality": "high"`, `"onsetDateTime": "2010-05-01"`}},
		{"a date that is no date", msg(mshA01, pidOK, "AL1|1|DA|91936005^Allergy to penicillin^SCT|SV||yesterday"),
			`AL1-6: "yesterday" is not a valid date (expected YYYY[MM[DD]])`,
			[]string{`"criticality": "high"`}},
		{"time in a CX-7 date", msg(mshA01, "PID|1||9434765919^^^NHS^NH~X1^^^RX1^MR^^2019010112||DOE^Jane"),
			`PID-3[2].7: "2019010112" has a time of day in a date field: read as its date (expected YYYY[MM[DD]])`,
			[]string{`"value": "X1"`, `"family": "DOE"`, `"start": "2019-01-01"`}},
		{"unsupported message type with a patient", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ZZZ^Z01^ZZZ_Z01|E-2|P|2.4", pidOK, pv1OK),
			`MSH-9: "ZZZ^Z01^ZZZ_Z01" is not a supported message type: its event is not mapped, only the segments this mapping knows (PID, PV1, OBX, ...) (expected ` + supportedKinds + ")",
			[]string{`"resourceType": "Patient"`, `"resourceType": "Encounter"`}},
		{"unknown version", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01|E-5|P|2.9", pidOK),
			`MSH-12: "2.9" is not a supported HL7 version: read as v2.8 (expected 2.3, 2.3.1, 2.4, 2.5, 2.5.1, 2.6, 2.7, 2.7.1, 2.8)`,
			[]string{`"resourceType": "Patient"`}},
		{"a message structure in MSH-9", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT_A04|E-5|P|2.4", pidOK, pv1OK),
			`MSH-9: "ADT_A04" is a message structure, not a type and event: read as ADT^A04 (expected a message type and trigger event such as ADT^A01)`,
			[]string{`"resourceType": "Encounter"`, `"status": "planned"`}},
		{"empty version", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01|E-5|P|", pidOK),
			`MSH-12: is empty: read as v2.5.1 (expected 2.3, 2.3.1, 2.4, 2.5, 2.5.1, 2.6, 2.7, 2.7.1, 2.8)`,
			[]string{`"resourceType": "Patient"`}},
		{"date-only MSH-7", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612||ADT^A01|E-6|P|2.4", pidOK),
			`MSH-7: "20240612" has no time of day: the Bundle timestamp is its midnight (expected a date/time to at least the hour: it is the Bundle timestamp)`,
			[]string{`"timestamp": "2024-06-12T00:00:00+00:00"`}},
		{"unknown gender", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19800101|X"),
			`PID-8: "X" is not an administrative sex code (expected HL7 table 0001 (v2.4): A, F, M, N, O, U)`,
			[]string{`"birthDate": "1980-01-01"`}},
		{"empty patient class", msg(mshA01, pidOK, "PV1|1||WARD1"),
			"PV1-2: is empty: no Encounter is made (expected a patient class from HL7 table 0004 (v2.4): B, C, E, I, N, O, P, R, U)",
			[]string{`"resourceType": "Patient"`}},
		{"unknown patient class", msg(mshA01, pidOK, "PV1|1|Z|WARD1"),
			`PV1-2: "Z" is not a patient class: kept as a v2-0004 code (expected HL7 table 0004 (v2.4): B, C, E, I, N, O, P, R, U)`,
			[]string{`"code": "Z"`, `"status": "in-progress"`}},
		{"A40 without MRG", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-7|P|2.5", pidOK),
			"PID: has no MRG segment after it (expected an MRG segment: ADT^A40 names the merged-away patient in MRG-1)",
			[]string{`"resourceType": "Patient"`}},
		{"merge into itself", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-8|P|2.5", pidOK, "MRG|9434765919^^^NHS^NH"),
			`MRG-1: "9434765919" names the same Patient as PID-3 (id 9434765919) (expected the identifiers of a different, merged-away patient)`,
			[]string{`"resourceType": "Patient"`}},
		{"A17 with one patient", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A17^ADT_A17|E-7|P|2.5", pidOK, pv1OK),
			"PID: segment is missing for the second patient (expected two PID/PV1 pairs: ADT^A17 swaps two patients)",
			[]string{`"resourceType": "Encounter"`}},
		{"A40 whose second PID has no MRG", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-7|P|2.5",
			pidOK, "MRG|R1^^^RX1^MR", "PID|2||R2^^^RX1^MR||DOE^John"),
			"PID[2]: has no MRG segment after it (expected an MRG segment: ADT^A40 names the merged-away patient in MRG-1)",
			[]string{`"type": "replaced-by"`, `"family": "DOE"`}},
		{"A40 whose second PID has no identifier", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-7|P|2.5",
			pidOK, "MRG|R1^^^RX1^MR", "PID|2||^^^RX1^MR||DOE^John", "MRG|R3^^^RX1^MR"),
			"PID[2]-3: has no identifier (expected at least one CX with an ID number in CX-1: it keys the Patient)",
			[]string{`"type": "replaced-by"`}},
		{"no such value type", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-9|P|2.3", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|XYZ|1234-5^Test^LN||POS^Positive^HL70078||||||F"),
			`OBX-2: "XYZ" is not a data type of HL7 v2.3: the value is kept as a string (expected a value type defined in v2.3 (HL7 table 0125))`,
			[]string{`"valueString": "POS^Positive^HL70078"`}},
		{"NM that is not a number", msg(mshORU, pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|NM|1234-5^Test^LN||12,5|mg||||||F", "OBX|2|NM|1234-6^Test^LN||7|mg||||||F"),
			`OBX[1]-5: "12,5" is not a valid NM number: kept as a string (expected a decimal such as 72.5)`,
			[]string{`"valueString": "12,5"`, `"value": 7`}},
		{"NM with a comparator", msg(mshORU, pidOK, "OBX|1|NM|1234-5^Test^LN||<5|mg||||||F"),
			`OBX-5: "<5" is not a valid NM number: read as SN (comparator and number) (expected a decimal such as 72.5)`,
			[]string{`"comparator": "<"`}},
		{"repeating NM", msg(mshORU, pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|NM|8480-6^BP^LN||60~120|mm[Hg]^^UCUM||||||F"),
			`OBX-5: "60~120" has 2 repetitions for value type NM: each is an Observation.component with the OBX-3 code (expected one value (only ST, TX and FT repeat))`,
			[]string{`"component"`, `"value": 120`}},
		{"unsupported value type", msg(mshORU, pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|CX|1234-5^Report^LN||X1^^^RX1||||||F"),
			`OBX-2: "CX" is not a supported value type: the value is kept as a string (expected NM, ST, TX, FT, CE, CWE, CNE, CF, IS, ID, SN, DT, TS, DTM, TM, DR, NR, RP or ED)`,
			[]string{`"valueString": "X1^^^RX1"`}},
		{"empty value type", msg(mshORU, pidOK, "OBX|1||1234-5^Report^LN||see report||||||F"),
			`OBX-2: is empty but OBX-5 has a value: read as ST (expected the value type (HL7 table 0125) of OBX-5)`,
			[]string{`"valueString": "see report"`}},
		{"bad SN separator", msg(mshORU, pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|SN|1234-5^Test^LN||^1^x^2||||||F"),
			`OBX-5.3: "x" is not an SN separator/suffix: kept as a string (expected one of - + / . :)`,
			[]string{`"valueString": "1 x 2"`}},
		{"unknown result status", msg(mshORU, pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|ST|1234-5^Test^LN||ok||||||Q"),
			`OBX-11: "Q" is not an observation result status: status is unknown (expected HL7 table 0085: A, B, C, D, F, I, N, O, P, R, S, U, V, W, X)`,
			[]string{`"status": "unknown"`, `"valueString": "ok"`}},
		{"OBR without code", msg(mshORU, pidOK, "OBR|1||F1|", "OBX|1|ST|1234-5^Test^LN||ok||||||F"),
			"OBR-4: is empty: the OBR is not converted (expected the universal service identifier: it is DiagnosticReport.code)",
			[]string{`"valueString": "ok"`}},
		{"RXA without date", msg(mshVXU, pidOK, "RXA|0|1||20240101|08^HepB^CVX"),
			`RXA-3: gives no date: the occurrence is RXA-4 (end of administration) (expected the date/time the administration started: it is Immunization.occurrence)`,
			[]string{`"occurrenceDateTime": "2024-01-01"`}},
		{"RXA without any date", msg(mshVXU, pidOK, "RXA|0|1|||08^HepB^CVX"),
			`RXA-3: gives no occurrence: the RXA is not converted (expected the date/time the administration started: it is Immunization.occurrence)`,
			[]string{`"resourceType": "Patient"`}},
		{"bad completion status", msg(mshVXU, pidOK, "RXA|0|1|20240101|20240101|08^HepB^CVX|||||||||||||||XX"),
			`RXA-20: "XX" is not a completion status: read as complete (expected HL7 table 0322: CP, RE, NA, PA)`,
			[]string{`"status": "completed"`}},
		{"bad death indicator", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19800101|F||||||||||||||||||||||NO"),
			`PID-30: "NO" is not a yes/no indicator (expected Y or N (HL7 table 0136))`,
			[]string{`"gender": "female"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Convert(tt.raw, Options{})
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, w.Error())
			}
			if !slices.Contains(got, tt.want) {
				t.Errorf("warnings\n got: %s\nwant: %s", strings.Join(got, "\n      "), tt.want)
			}
			body := res.JSON()
			for _, h := range tt.has {
				if !strings.Contains(string(body), h) {
					t.Errorf("the Bundle has no %s:\n%.3000s", h, body)
				}
			}
			checkFHIR(t, body)
		})
	}
}

func TestAWarningIsATypedFieldError(t *testing.T) {
	res, err := Convert(msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19801301|F"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Path != "PID-7" || res.Warnings[0].Value != "19801301" {
		t.Fatalf("want one warning for PID-7 with the value, got %v", res.Warnings)
	}
}

func TestARefusalIsATypedFieldError(t *testing.T) {
	_, err := Convert(msg(mshA01, "PID|1||^^^RX1^MR||DOE^Jane"), Options{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "PID-3" {
		t.Fatalf("want a *FieldError for PID-3, got %#v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{BaseURL: "fhir/R4"},
		{DefaultSystem: "urn:x"},
		{Systems: map[string]string{"RX1": ""}},
	} {
		if _, err := NewConverter(o); err == nil {
			t.Errorf("NewConverter(%+v) succeeded, want an error", o)
		}
	}
}

// A newer value type under an older version label (CWE in a v2.3 message) is taken, as
// real senders send it.
func TestNewerValueTypeUnderOlderVersion(t *testing.T) {
	raw := "MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-9|P|2.3\r" +
		"PID|1||9434765919^^^NHS^NH||SMITH^JOHN||19800101|M\r" +
		"OBR|1||F1|1234-5^Test^LN\r" +
		"OBX|1|CWE|1234-5^Test^LN||POS^Positive^HL70078||||||F\r"
	res, err := Convert([]byte(raw), Options{})
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if b := string(res.JSON()); !strings.Contains(b, `"valueCodeableConcept"`) {
		t.Fatalf("no valueCodeableConcept in %s", b)
	}
}

// A bare PV1 in a result message (no patient class) gives no Encounter, not an error.
func TestBarePV1InORU(t *testing.T) {
	raw := "MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-11|P|2.5\r" +
		"PID|1||9434765919^^^NHS^NH||SMITH^JOHN||19800101|M\r" +
		"PV1|1\r" +
		"OBR|1||F1|1234-5^Test^LN\r" +
		"OBX|1|NM|1234-5^Test^LN||5.4|mmol/L^mmol/L^UCUM|||||F\r"
	res, err := Convert([]byte(raw), Options{})
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	b := string(res.JSON())
	if strings.Contains(b, `"resourceType": "Encounter"`) || !strings.Contains(b, `"resourceType": "Observation"`) {
		t.Fatalf("want Observations and no Encounter:\n%.600s", b)
	}
}

// A segment whose mapping fails part way leaves nothing it made in the
// Bundle: the failure is a warning, and the resources the segment had made
// are taken out again, so no half-made resource or dangling reference stays.
func TestASegmentThatFailsPartWayLeavesNothingBehind(t *testing.T) {
	segmentMappers["ZRB"] = func(c *conv, s seg, g *group) error {
		e, _ := c.entry("Observation", "zrb|"+s.get(1, 1, 1))
		e.res.Set("status", "final")
		c.practitioner(s.field(2, 1))
		return fieldErr(s.at(3, 1, 0), s.get(3, 1, 1), "is not what this test expects", "nothing")
	}
	defer delete(segmentMappers, "ZRB")
	res, err := Convert(msg(mshA01, pidOK, pv1OK, "ZRB|1|D1^DOC^A|bad"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Path != "ZRB-3" {
		t.Errorf("warnings: %v, want one at ZRB-3", res.Warnings)
	}
	if n := len(resources(t, res, "Observation")) + len(resources(t, res, "Practitioner")); n != 0 {
		t.Errorf("the failed segment left %d resources in the Bundle", n)
	}
	checkFHIR(t, res.JSON())
}
