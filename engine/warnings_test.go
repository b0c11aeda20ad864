package engine_test

import (
	"context"
	"strings"
	"testing"

	_ "junction/connectors"
	"junction/engine"
)

const warnRoutes = `store: { path: junction.db }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    transform:
      - 'setBody(toFHIR())'
    destinations:
      - { name: archive, type: file, dir: out }
`

const oruBadNM = "MSH|^~\\&|LAB|R0D|DEX|QVV|20240213144932||ORU^R01|77|P|2.4\r" +
	"PID|1||9434765919^^^NHS^NH||Smith^John||19800101|M\r" +
	"OBR|1||X1|GLU^Glucose\r" +
	"OBX|1|NM|GLU^Glucose||60~120|mmol/L|||||F\r"

func TestProcessStoresTheWarningsOfAConversionAndKeepsTheMessageRouted(t *testing.T) {
	eng, store, _ := startRoutes(t, warnRoutes)
	ctx := context.Background()
	res := eng.Channel("lab").Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(oruBadNM)})
	if !res.Accepted() || res.Status != engine.StatusTransformed || res.Err != nil {
		t.Fatalf("processed: %+v", res)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Value != "60~120" || !strings.HasSuffix(res.Warnings[0].Path, "-5") {
		t.Fatalf("result warnings %+v", res.Warnings)
	}
	m, err := store.GetMessage(ctx, res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || m.Warnings[0] != res.Warnings[0] || m.Status == engine.StatusError || len(m.Destinations) != 1 {
		t.Fatalf("stored: %s %+v %+v", m.Status, m.Warnings, m.Destinations)
	}
	if w := m.Warnings[0]; !strings.HasSuffix(w.Text, `: "60~120" `+w.Problem+" (expected "+w.Expected+")") {
		t.Errorf("text %q", m.Warnings[0].Text)
	}
}
