package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// largeRoutes converts HL7v2 to FHIR as the bundled ed-adt channel does.
const largeRoutes = `admin:
  listen: {{ADMIN}}
store:
  path: {{DIR}}/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
      ack: { application: DEX, facility: QVV }
      auth: none
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'setBody(toFHIR())'
    destinations:
      - { name: archive, type: file, dir: out }
`

// oruWithOBX is an ORU^R01 with n numeric OBX segments.
func oruWithOBX(controlID string, n int) string {
	var b strings.Builder
	b.WriteString(`MSH|^~\&|LAB|RX1|JUNCTION|RX1|20240213144932||ORU^R01^ORU_R01|` + controlID + "|P|2.4\r")
	b.WriteString("PID|1||9434765919^^^NHS^NH||Smith^Maria||19850317|F\r")
	b.WriteString("OBR|1|ORD1|FIL1|24331-1^Lipid panel^LN|||20240213120000\r")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "OBX|%d|NM|2093-3^Cholesterol^LN||%d|mg/dL|||||F\r", i, 100+i%100)
	}
	return b.String()
}

// The hostile tester's message: 100k OBX (about 4 MB) through $ingest and toFHIR(). It
// took minutes of a core before conversion was linear; now it is answered, accepted and
// converted. (No time is asserted: the client's own timeout guards against a hang.)
func TestAMessageOf100kSegmentsIsAnsweredAndConverted(t *testing.T) {
	j := startJunction(t, largeRoutes, nil)
	msg := oruWithOBX("E2E-BIG-1", 100_000)
	r := postHL7(t, j.IngestURL(), "emergency-care", msg)
	if r.Status != 200 {
		t.Fatalf("status %d; body %q", r.Status, tail(r.Body, 400))
	}
	checkACK(t, r, "AA", "E2E-BIG-1")
	m := j.Message(t, r.MessageID())
	if m.Transformed == nil || !strings.Contains(*m.Transformed, `"resourceType":"Bundle"`) || strings.Count(*m.Transformed, `"resourceType":"Observation"`) != 100_000 {
		t.Errorf("the stored transform does not hold 100,000 Observations")
	}
}
