package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
)

const dryRoutes = `store: { path: junction.db }
channels:
  - name: adt
    filtered_ack: AR
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed }
    filter:
      - 'get("MSH-9.1") == "ADT"'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-5.2") != "Boom" || error("no Booms")'
    destinations:
      - { name: archive, type: file, dir: out }
      - { name: downstream, type: http, url: "http://127.0.0.1:9/in" }
  - name: fhir
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed, data_types: [FHIR] }
    transform:
      - 'setBody(toFHIR())'
    destinations:
      - { name: archive, type: file, dir: out-fhir }
`

const (
	dryADT   = "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||0000000000^^^NHS^NH||Fernández^José||19800101|M\r"
	drySIU   = "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||SIU^S12|2|P|2.4\rPID|1||0000000000^^^NHS^NH||Fernández^José\r"
	dryBoom  = "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|3|P|2.4\rPID|1||0000000000^^^NHS^NH||Smith^Boom\r"
	dryNoMSH = "PID|1||0000000000^^^NHS^NH||Fernández^José\r"
)

func loadDry(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	eng, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(dryRoutes))
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return eng, dir
}

func TestADryRunReportsStatusBodyDestinationsAndACKWithoutStartingTheEngine(t *testing.T) {
	eng, dir := loadDry(t)
	ch := eng.Channel("adt")
	cases := []struct {
		body, status, ack, err string
		dests                  []string
	}{
		{dryADT, "TRANSFORMED", "AA", "", []string{"archive", "downstream"}},
		{drySIU, "FILTERED", "AR", `filtered by`, nil},
		{dryBoom, "ERROR", "AE", "no Booms", nil},
		{dryNoMSH, "ERROR", "AE", "MSH", nil},
	}
	for _, c := range cases {
		r := ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(c.body)})
		if string(r.Status) != c.status || r.ACK != c.ack || !slices.Equal(r.Destinations, c.dests) {
			t.Errorf("%q: got %s %s %v, want %s %s %v", c.body[:40], r.Status, r.ACK, r.Destinations, c.status, c.ack, c.dests)
		}
		if (r.Err == nil) != (c.err == "") || r.Err != nil && !strings.Contains(r.Err.Error(), c.err) {
			t.Errorf("%q: error %v, want one containing %q", c.body[:40], r.Err, c.err)
		}
	}
	r := ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(dryADT)})
	if !strings.Contains(string(r.Body), "FERNÁNDEZ^José") {
		t.Errorf("body %q: the family name is not upper-cased", r.Body)
	}
	if got, _ := r.Msg.HL7.Get("PID-5.1"); got != "FERNÁNDEZ" {
		t.Errorf("PID-5.1 = %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a dry run created files: %v", entries)
	}
}

func TestADryRunGivesTheBodyReceivedWhenNothingTransformsIt(t *testing.T) {
	eng, _ := loadDry(t)
	body := []byte(`{"resourceType":"Patient","id":"p1"}`)
	r := eng.Channel("fhir").DryRun(&engine.Inbound{DataType: "FHIR", Body: body})
	// toFHIR() of a FHIR message fails: the channel's transform is for HL7v2 only.
	if r.Status != engine.StatusError || r.ACK != "AE" || r.Body != nil {
		t.Fatalf("got %s %s %q", r.Status, r.ACK, r.Body)
	}
	eng2, err := engine.LoadBytes(filepath.Join(t.TempDir(), "routes.yaml"), []byte(`channels:
  - name: plain
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed }
    destinations: [{ name: archive, type: file, dir: out }]
`))
	if err != nil {
		t.Fatal(err)
	}
	r = eng2.Channel("plain").DryRun(&engine.Inbound{DataType: "FHIR", Body: body})
	if r.Status != engine.StatusTransformed || string(r.Body) != string(body) || r.ACK != "AA" {
		t.Fatalf("got %s %s %q", r.Status, r.ACK, r.Body)
	}
}

func TestTheACKCodeFollowsTheStatusTheStoreAndTheFilteredACK(t *testing.T) {
	eng, _ := loadDry(t)
	ar, aa := eng.Channel("adt"), eng.Channel("fhir")
	stored := errors.New("disk full")
	for _, c := range []struct {
		ch   *engine.Channel
		res  engine.Result
		want string
	}{
		{aa, engine.Result{Status: engine.StatusTransformed}, "AA"},
		{aa, engine.Result{Status: engine.StatusFiltered}, "AA"},
		{ar, engine.Result{Status: engine.StatusFiltered}, "AR"},
		{aa, engine.Result{Status: engine.StatusError}, "AE"},
		{ar, engine.Result{Status: engine.StatusTransformed, StoreErr: stored}, "AE"},
		{ar, engine.Result{Status: engine.StatusFiltered, StoreErr: stored}, "AE"},
	} {
		if got := c.ch.ACKCode(c.res); got != c.want {
			t.Errorf("%s %s (store error %v): %s, want %s", c.ch.Name, c.res.Status, c.res.StoreErr, got, c.want)
		}
	}
}

func TestADryRunAgreesWithWhatProcessStores(t *testing.T) {
	eng, _ := loadDry(t)
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	}()
	ch, ctx := eng.Channel("adt"), context.Background()
	for _, body := range []string{dryADT, drySIU, dryBoom, dryNoMSH} {
		dry := ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(body)})
		res := ch.Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(body)})
		m, err := store.GetMessage(ctx, res.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		var dests []string
		for _, d := range m.Destinations {
			dests = append(dests, d.Name)
		}
		slices.Sort(dests)
		transformed := m.Raw
		if m.Transformed != nil {
			transformed = *m.Transformed
		}
		if m.Status == engine.StatusTransformed || m.Status == engine.StatusQueued {
			m.Status = engine.StatusTransformed
		}
		if dry.Status != m.Status || !slices.Equal(dry.Destinations, dests) || dry.Status == engine.StatusTransformed && string(dry.Body) != transformed {
			t.Errorf("%q: dry run %s %v %q; stored %s %v %q", body[:40], dry.Status, dry.Destinations, dry.Body, m.Status, dests, transformed)
		}
		if dry.Err != nil && dry.Err.Error() != m.Error {
			t.Errorf("%q: dry run error %q, stored %q", body[:40], dry.Err, m.Error)
		}
	}
}
