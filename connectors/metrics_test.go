package connectors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"junction/auth"
	"junction/engine"
	"junction/engine/store/sqlite"
)

// runMetered runs routes with the engine's metrics on, in a registry of their own.
func runMetered(t *testing.T, routes string) (*engine.Engine, *prometheus.Registry) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = discard()
	reg := prometheus.NewRegistry()
	if _, err := eng.EnableMetrics(reg); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng, reg
}

// refusals gathers junction_source_refusals_total as "source/channel/reason" → count.
func refusals(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range mfs {
		if f.GetName() != "junction_source_refusals_total" {
			continue
		}
		for _, m := range f.Metric {
			out[label(m, "source")+"/"+label(m, "channel")+"/"+label(m, "reason")] = m.Counter.GetValue()
		}
	}
	return out
}

// gauges gathers the gauge family name as "label1/label2/…" → value.
func gauges(t *testing.T, reg *prometheus.Registry, name string, labels ...string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range mfs {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			var key []string
			for _, l := range labels {
				key = append(key, label(m, l))
			}
			out[strings.Join(key, "/")] = m.Gauge.GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Each refusal is counted under its source, its channel (when one was chosen) and the
// reason the sender was given: a missing token, a body over max_body, a filter with
// filtered_ack: AR, a stopped channel, over $ingest and over MLLP, an MLLP message no
// channel takes and a frame over max_messages_per_frame; accepted messages count nothing.
func TestEachRefusalIsCountedWithItsSourceChannelAndReason(t *testing.T) {
	_, keys, _ := authKeys(t)
	eng, reg := runMetered(t, `store:
  path: junction.db
channels:
  - name: ed-adt
    filtered_ack: AR
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      max_body: 4KB
      auth: { issuer: "https://idp.example/realms/exchange", audience: junction, pem: [`+keys.Public+`] }
    filter:
      - 'get("MSH-9.1") != "SIU"'
    destinations:
      - { name: archive, type: file, dir: out }
  - name: lab-adt
    source: { type: mllp, listen: 127.0.0.1:0, auth: none, match: { message_type: [ADT] }, max_messages_per_frame: 1 }
    destinations:
      - { name: archive, type: file, dir: out-adt }
`)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	good := "Bearer " + token(t, keys.Private, auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}})
	for _, c := range []struct {
		what   string
		hdr    map[string]string
		body   string
		status int
	}{
		{"accepted", headers("Authorization", good), adtA01, 200},
		{"no token", headers(), adtA01, 401},
		{"filtered, AR", headers("Authorization", good), strings.Replace(adtA01, "ADT^A01", "SIU^S12", 1), 422},
		{"over max_body", headers("Authorization", good), adtA01 + strings.Repeat("NTE|1||x\r", 600), 413},
	} {
		if status, _, body := post(t, url, "POST", c.hdr, c.body); status != c.status {
			t.Fatalf("%s: %d %q, want %d", c.what, status, body, c.status)
		}
	}
	c := dialMLLP(t, eng.BoundAddr("MLLP"), nil)
	if ack := sendMLLP(t, c, strings.Replace(mllpADT("M1", "Smith"), "ADT^A01", "ORU^R01", 1)); !strings.Contains(ack, "MSA|AR|M1") {
		t.Fatalf("an ORU no channel takes: %q", ack)
	}
	if ack := sendMLLP(t, c, mllpADT("M2", "Smith")); !strings.Contains(ack, "MSA|AA|M2") {
		t.Fatalf("an ADT: %q", ack)
	}
	if ack := sendMLLP(t, c, mllpADT("M4", "Smith")+mllpADT("M5", "Smith")); !strings.Contains(ack, "MSA|AR|M4") {
		t.Fatalf("two messages in a frame that takes one: %q", ack)
	}
	for _, ch := range []string{"ed-adt", "lab-adt"} {
		if err := eng.SetChannelState(context.Background(), ch, engine.ChannelStopped, "by tester"); err != nil {
			t.Fatal(err)
		}
	}
	if status, _, body := post(t, url, "POST", headers("Authorization", good), adtA01); status != 503 {
		t.Fatalf("stopped ed-adt: %d %q", status, body)
	}
	if ack := sendMLLP(t, c, mllpADT("M3", "Smith")); !strings.Contains(ack, "MSA|AE|M3") {
		t.Fatalf("stopped lab-adt: %q", ack)
	}

	states := gauges(t, reg, "junction_channel_state", "channel", "state")
	for _, k := range []string{"ed-adt/stopped", "lab-adt/stopped"} {
		if states[k] != 1 || states[strings.Replace(k, "stopped", "started", 1)] != 0 {
			t.Errorf("junction_channel_state %v: want %s only", states, k)
		}
	}
	want := map[string]float64{
		"ingest/ed-adt/unauthorized":    1,
		"ingest/ed-adt/filtered":        1,
		"ingest//too_large":             1, // refused before a route was chosen: the listener's own limit
		"ingest/ed-adt/channel_stopped": 1,
		"mllp//invalid":                 1,
		"mllp//too_large":               1, // the frame is refused whole, answered once
		"mllp/lab-adt/channel_stopped":  1,
	}
	got := refusals(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("refusals %s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("refusals %s = %v, want none", k, v)
		}
	}
}

// A fhir-bundle source counts its PUTs as its own: a Bundle accepted, one that is not
// JSON (invalid, before any channel is chosen), one for a stopped channel; the FHIR reads
// beside them are timed as fhir-api, and a read of a Bundle not stored is no refusal.
func TestABundleSourceCountsItsPutsAndNotItsReads(t *testing.T) {
	pkgs, _ := filepath.Abs("../fhir/packages")
	eng, reg := runMetered(t, `store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      base: /fhir
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "`+pkgs+`/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "`+pkgs+`/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "`+pkgs+`/hl7.fhir.dk.core#1.1.0.tgz"
      auth: none
    destinations:
      - { name: archive, type: file, dir: out }
`)
	base := "http://" + eng.BoundAddr("HTTP") + "/fhir"
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/Bundle/" + seedID, seedBundle(t), 201},
		{"PUT", "/Bundle/not-json", "{", 400},
		{"GET", "/Bundle/" + seedID, "", 200},
		{"GET", "/Bundle/never-stored", "", 404},
	} {
		if status, _, body := request(t, c.method, base+c.path, "application/fhir+json", c.body); status != c.status {
			t.Fatalf("%s %s: %d %.300s, want %d", c.method, c.path, status, body, c.status)
		}
	}
	if err := eng.SetChannelState(context.Background(), "care-gateway", engine.ChannelStopped, "by tester"); err != nil {
		t.Fatal(err)
	}
	if status, _, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/fhir+json", seedBundle(t)); status != 503 {
		t.Fatalf("stopped channel: %d %.300s", status, body)
	}
	want := map[string]float64{"fhir-bundle//invalid": 1, "fhir-bundle/care-gateway/channel_stopped": 1}
	got := refusals(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("refusals %s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("refusals %s = %v, want none", k, v)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]uint64{}
	for _, f := range mfs {
		if f.GetName() == "junction_source_request_duration_seconds" {
			for _, m := range f.Metric {
				requests[label(m, "source")+"/"+label(m, "channel")] = m.Histogram.GetSampleCount()
			}
		}
	}
	if requests["fhir-bundle/care-gateway"] != 2 || requests["fhir-bundle/"] != 1 || requests["fhir-api/"] != 2 {
		t.Errorf("requests timed %v, want 2 PUTs for care-gateway, 1 PUT for none, 2 reads", requests)
	}
}
