package hl7tofhir

import (
	"errors"
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

// TestErrors checks the exact message of each error case: the element at
// fault in hl7 path syntax, the value, and what was expected.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"no PID", msg(mshA01, "EVN|A01|20240612093015", pv1OK),
			"PID: segment is missing (expected a PID segment: ADT^A01 carries a patient)"},
		{"bad birth date", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19801301|F"),
			`PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])`},
		{"bad admit time", msg(mshA01, pidOK, "PV1|1|I||||||||||||||||||||||||||||||||||||||||||202406121560"),
			`PV1-44: "202406121560" is not a valid date/time (expected YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])`},
		{"fraction without seconds", msg(mshA01, pidOK, "PV1|1|I||||||||||||||||||||||||||||||||||||||||||202406121530.5"),
			`PV1-44: "202406121530.5" is not a valid date/time (expected YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])`},
		{"time in a v2.4 DT field", msg(mshA01, pidOK, "AL1|1|DA|91936005^Allergy to penicillin^SCT|SV||20100501120000"),
			`AL1-6: "20100501120000" is not a valid date (expected YYYY[MM[DD]])`},
		{"time in a CX-7 date", msg(mshA01, "PID|1||9434765919^^^NHS^NH~X1^^^RX1^MR^^2019010112||DOE^Jane"),
			`PID-3[2].7: "2019010112" is not a valid date (expected YYYY[MM[DD]])`},
		{"unsupported message type", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ORM^O01^ORM_O01|E-2|P|2.4", pidOK),
			`MSH-9: "ORM^O01^ORM_O01" is not a supported message type (expected ADT^A01 to ADT^A08, ADT^A11, ADT^A13, ADT^A28, ADT^A31, ADT^A40, ORU^R01 or VXU^V04)`},
		{"ACK is not converted", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ACK|E-3|P|2.4", "MSA|AA|E-1"),
			`MSH-9: "ACK" is not a supported message type (expected ADT^A01 to ADT^A08, ADT^A11, ADT^A13, ADT^A28, ADT^A31, ADT^A40, ORU^R01 or VXU^V04)`},
		{"empty MSH-9", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015|||E-4|P|2.4", pidOK),
			"MSH-9: is empty (expected a message type such as ADT^A01)"},
		{"empty MSH-10", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01|||2.4", pidOK),
			"MSH-10: is empty (expected a message control ID: it identifies the Bundle)"},
		{"unknown version", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A01|E-5|P|2.9", pidOK),
			`MSH-12: "2.9" is not a supported HL7 version (expected 2.3, 2.3.1, 2.4, 2.5, 2.5.1, 2.6, 2.7, 2.7.1, 2.8)`},
		{"date-only MSH-7", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612||ADT^A01|E-6|P|2.4", pidOK),
			`MSH-7: "20240612" has no time of day (expected a date/time to at least the hour: it is the Bundle timestamp)`},
		{"no patient identifier", msg(mshA01, "PID|1||^^^RX1^MR||DOE^Jane"),
			"PID-3: has no identifier (expected at least one CX with an ID number in CX-1: it keys the Patient)"},
		{"unknown gender", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19800101|X"),
			`PID-8: "X" is not an administrative sex code (expected HL7 table 0001 (v2.4): A, F, M, N, O, U)`},
		{"empty patient class", msg(mshA01, pidOK, "PV1|1||WARD1"),
			"PV1-2: is empty (expected a patient class from HL7 table 0004 (v2.4): B, C, E, I, N, O, P, R, U)"},
		{"unknown patient class", msg(mshA01, pidOK, "PV1|1|Z|WARD1"),
			`PV1-2: "Z" is not a patient class (expected HL7 table 0004 (v2.4): B, C, E, I, N, O, P, R, U)`},
		{"A40 without MRG", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-7|P|2.5", pidOK),
			"MRG: segment is missing (expected an MRG segment: ADT^A40 names the merged-away patient in MRG-1)"},
		{"merge into itself", msg("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240612093015||ADT^A40^ADT_A39|E-8|P|2.5", pidOK, "MRG|9434765919^^^NHS^NH"),
			`MRG-1: "9434765919" names the same Patient as PID-3 (id 9434765919) (expected the identifiers of a different, merged-away patient)`},
		{"no such value type", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-9|P|2.3", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|XYZ|1234-5^Test^LN||POS^Positive^HL70078||||||F"),
			`OBX-2: "XYZ" is not a data type of HL7 v2.3 (expected a value type defined in v2.3 (HL7 table 0125))`},
		{"NM that is not a number", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-10|P|2.5.1", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|NM|1234-5^Test^LN||12,5|mg||||||F", "OBX|2|NM|1234-6^Test^LN||abc|mg||||||F"),
			`OBX[1]-5: "12,5" is not a valid NM number (expected a decimal such as 72.5)`},
		{"repeating NM", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-11|P|2.5.1", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|NM|1234-5^Test^LN||1~2|mg||||||F"),
			`OBX-5: "1~2" has 2 repetitions for value type NM (expected one value (only ST, TX and FT repeat))`},
		{"unsupported value type", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-12|P|2.5.1", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|ED|1234-5^Report^LN||LAB^TEXT^PDF^Base64^JVBERi0=||||||F"),
			`OBX-2: "ED" is not a supported value type (expected NM, ST, TX, FT, CE, CWE, CNE, IS, ID, SN, DT, TS, DTM or TM)`},
		{"bad SN separator", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-13|P|2.5.1", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|SN|1234-5^Test^LN||^1^x^2||||||F"),
			`OBX-5.3: "x" is not an SN separator/suffix (expected one of - + / . :)`},
		{"unknown result status", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-14|P|2.5.1", pidOK,
			"OBR|1||F1|1234-5^Test^LN", "OBX|1|ST|1234-5^Test^LN||ok||||||Q"),
			`OBX-11: "Q" is not an observation result status (expected HL7 table 0085: A, B, C, D, F, I, N, O, P, R, S, U, V, W, X)`},
		{"OBR without code", msg("MSH|^~\\&|LIMS|LAB|JUNCTION|RX1|20240612093015||ORU^R01|E-15|P|2.5.1", pidOK, "OBR|1||F1|"),
			"OBR-4: is empty (expected the universal service identifier: it is DiagnosticReport.code)"},
		{"RXA without date", msg("MSH|^~\\&|GP|B1|JUNCTION|NIMS|20240612093015||VXU^V04|E-16|P|2.5.1", pidOK, "RXA|0|1||20240101|08^HepB^CVX"),
			"RXA-3: is empty (expected the date/time the administration started: it is Immunization.occurrence)"},
		{"bad completion status", msg("MSH|^~\\&|GP|B1|JUNCTION|NIMS|20240612093015||VXU^V04|E-17|P|2.5.1", pidOK, "RXA|0|1|20240101|20240101|08^HepB^CVX|||||||||||||||XX"),
			`RXA-20: "XX" is not a completion status (expected HL7 table 0322: CP, RE, NA, PA)`},
		{"bad death indicator", msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19800101|F||||||||||||||||||||||MAYBE"),
			`PID-30: "MAYBE" is not a yes/no indicator (expected Y or N (HL7 table 0136))`},
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

func TestFieldErrorIsTyped(t *testing.T) {
	_, err := Convert(msg(mshA01, "PID|1||9434765919^^^NHS^NH||DOE^Jane||19801301|F"), Options{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "PID-7" || fe.Value != "19801301" {
		t.Fatalf("want a *FieldError for PID-7 with the value, got %#v", err)
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
