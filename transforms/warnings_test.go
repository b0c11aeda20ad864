package transforms

import (
	"strings"
	"testing"
)

// oru carries an OBX-5 that does not convert (two repetitions of an NM value).
const oru = "MSH|^~\\&|LAB|R0D|DEX|QVV|20240213144932||ORU^R01|77|P|2.4\r" +
	"PID|1||0000000000^^^NHS^NH||Smith^John||19800101|M\r" +
	"OBR|1||X1|GLU^Glucose\r" +
	"OBX|1|NM|GLU^Glucose||60~120|mmol/L|||||F\r"

func TestToFHIRKeepsTheWarningsOfAConversionOnTheMessage(t *testing.T) {
	m := parse(t, HL7v2, oru)
	s := NewSession(m, "lab")
	defer s.Close()
	if err := s.Transform(compile(t, `setBody(toFHIR())`, Transform)); err != nil {
		t.Fatalf("a value that does not convert failed the transform: %v", err)
	}
	ws := m.Warnings()
	if len(ws) != 1 || !strings.HasPrefix(ws[0].Path, "OBX") || !strings.HasSuffix(ws[0].Path, "-5") || ws[0].Value != "60~120" {
		t.Fatalf("warnings %+v", ws)
	}
	if out, _ := m.Output(); !strings.Contains(string(out), `"resourceType":"Patient"`) {
		t.Errorf("the Bundle lacks the Patient: %.300s", out)
	}
}

func TestAValueFailingInTwoConversionsIsOneWarning(t *testing.T) {
	m := parse(t, HL7v2, oru)
	s := NewSession(m, "lab")
	defer s.Close()
	if err := s.Transform(compile(t, `toFHIR() != "" && setBody(toFHIR())`, Transform)); err != nil {
		t.Fatal(err)
	}
	if ws := m.Warnings(); len(ws) != 1 {
		t.Fatalf("warnings %v", ws)
	}
}

func TestAMessageThatConvertsCleanlyHasNoWarnings(t *testing.T) {
	m := parse(t, HL7v2, adt)
	s := NewSession(m, "ed-adt")
	defer s.Close()
	if err := s.Transform(compile(t, `setBody(toFHIR())`, Transform)); err != nil {
		t.Fatal(err)
	}
	if ws := m.Warnings(); ws != nil {
		t.Fatalf("warnings %v", ws)
	}
}
