package hl7_test

// These tests count the work hl7's lookups do (hl7.CountWork, which
// export_test.go exports to tests only) while the packages built on hl7
// convert and transform messages, so that they can assert that the work
// grows linearly with the message without timing anything. They live here
// because the counter does.

import (
	"strconv"
	"strings"
	"testing"

	"junction/hl7"
	"junction/hl7tofhir"
	"junction/transforms"
)

// oru is an ORU^R01 with n OBX segments under one OBR.
func oru(n int) string {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LIMS|LEEDS|JUNCTION|LEEDS|20240610154500||ORU^R01^ORU_R01|LAB-1|P|2.5.1\r" +
		"PID|1||4857773456^^^NHS^NH||Patel^Ravi||19780105|M\rPV1|1|O|OPD1^^^LEEDS\r" +
		"ORC|RE|ORD123^EPR|FIL456^LIMS\rOBR|1|ORD123^EPR|FIL456^LIMS|24331-1^Lipid panel^LN|||20240610080000\r")
	for i := 1; i <= n; i++ {
		b.WriteString("OBX|" + strconv.Itoa(i) + "|NM|2093-3^Cholesterol^LN||5.8|mmol/L^^UCUM|3.0-5.0|H|||F\rNTE|1||Fasting\r")
	}
	return b.String()
}

// work counts what hl7's lookups examine while f runs.
func work(f func()) int {
	n, stop := hl7.CountWork()
	defer stop()
	f()
	return *n
}

// linear fails unless the work for 8 times the input is at most 12 times
// the work for the input: linear growth gives 8, quadratic 64.
func linear(t *testing.T, what string, of func(k int) int) {
	t.Helper()
	small, large := of(1), of(8)
	if small == 0 || large > 12*small {
		t.Errorf("%s: work grew from %d to %d (%.1fx) for 8x the message; want linear growth (about 8x)",
			what, small, large, float64(large)/float64(max(small, 1)))
	}
}

func TestConvertingAMessageOf8TimesTheOBXDoesAbout8TimesTheWork(t *testing.T) {
	c, _ := hl7tofhir.NewConverter(hl7tofhir.Options{})
	linear(t, "converting n OBX", func(k int) int {
		raw := []byte(oru(500 * k))
		return work(func() {
			if _, err := c.Convert(raw); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestConvertingFieldsOf8TimesTheRepetitionsDoesAbout8TimesTheWork(t *testing.T) {
	c, _ := hl7tofhir.NewConverter(hl7tofhir.Options{})
	reps := func(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+"~", n), "~") }
	linear(t, "converting fields of n repetitions", func(k int) int {
		n := 2000 * k
		raw := []byte("MSH|^~\\&|LIMS|LEEDS|JUNCTION|LEEDS|20240610154500||ORU^R01|LAB-1|P|2.5.1\r" +
			"PID|1||" + reps("1^^^X", n) + "||Patel^Ravi~" + reps("\"\"", n) + "|||M|||" + reps("1 Road^^Leeds", n) + "\r" +
			"OBR|1|A|B|24331-1^Lipid panel^LN\r" +
			"OBX|1|TX|8251-1^Comment^LN||" + reps("line", n) + "|||" + reps("H", n) + "|||F\r" +
			"NTE|1||" + reps("note", n) + "\r")
		return work(func() {
			if _, err := c.Convert(raw); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// The bundled routes.yaml's ed-adt channel, plus a filter that reads every
// OBX by occurrence as a script may.
var route = []struct {
	src  string
	kind transforms.Kind
}{
	{`get("MSH-9.1") in ["ADT", "ORU", "VXU"]`, transforms.Filter},
	{`len(filter(1..segmentCount("OBX"), get("OBX[" + string(#) + "]-2") == "NM")) == segmentCount("OBX")`, transforms.Filter},
	{`set("PID-5.1", upper(get("PID-5.1")))`, transforms.Transform},
	{`setBody(toFHIR())`, transforms.Transform},
}

func TestTheBundledRouteDoesLinearWork(t *testing.T) {
	progs := make([]*transforms.Program, len(route))
	for i, r := range route {
		p, err := transforms.Compile(transforms.Script{Source: r.src, File: "routes.yaml", Path: "test"}, r.kind, []string{transforms.HL7v2})
		if err != nil {
			t.Fatal(err)
		}
		progs[i] = p
	}
	linear(t, "filter and transform n OBX", func(k int) int {
		raw := []byte(oru(500 * k))
		return work(func() {
			m, err := transforms.Parse(transforms.HL7v2, raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := transforms.NewSession(m, "ed-adt")
			defer s.Close()
			for i, p := range progs {
				if route[i].kind == transforms.Filter {
					if ok, err := s.Filter(p); err != nil || !ok {
						t.Fatalf("filter %q = %v, %v", route[i].src, ok, err)
					}
				} else if err := s.Transform(p); err != nil {
					t.Fatal(err)
				}
			}
			if out, _ := m.Output(); !strings.Contains(string(out), `"family":"PATEL"`) {
				t.Fatalf("output is not the Bundle of the transformed message: %.200s", out)
			}
		})
	})
}
