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

	"junction/engine"
	"junction/engine/store/sqlite"
)

const destFilterRoutes = `store: { path: junction.db }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - name: all
        type: file
        dir: out/all
        filename: "{id}.hl7"
      - name: lab-only
        type: file
        dir: out/lab
        filename: "{id}.hl7"
        filter: ['get("MSH-9.1") == "ORU"']
      - name: broken
        type: file
        dir: out/broken
        filename: "{id}.hl7"
        filter: ['get("MSH-9.1") == "ADT" ? error("cannot decide") : false']
`

const (
	adtMsg = "MSH|^~\\&|EPR|RX1|DEX|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||123^^^H^MR||Smith^John\r"
	oruMsg = "MSH|^~\\&|EPR|RX1|DEX|QVV|20240213144932||ORU^R01|2|P|2.4\rPID|1||123^^^H^MR||Smith^John\r"
)

// startRoutes loads routes (in a new folder, which it returns) and starts them on a real
// SQLite store, stopped when the test ends.
func startRoutes(t *testing.T, routes string) (*engine.Engine, engine.Store, string) {
	t.Helper()
	dir := t.TempDir()
	eng, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(routes))
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return eng, store, dir
}

// waitFinal waits until no delivery of message id is QUEUED.
func waitFinal(t *testing.T, store engine.Store, id int64) *engine.MessageDetail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m, err := store.GetMessage(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(m.Destinations, func(d engine.DestinationStatus) bool { return d.Status == engine.StatusQueued }) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d still queued: %+v", id, m.Destinations)
		}
	}
}

func destStatus(m *engine.MessageDetail, name string) engine.DestinationStatus {
	for _, d := range m.Destinations {
		if d.Name == name {
			return d
		}
	}
	return engine.DestinationStatus{Name: name, Status: "(none)"}
}

// A destination whose filter says no does not get the message: it is FILTERED with the
// filter's FILE:LINE as the reason, the others get it, the message is SENT, the
// destination's counters count it, a resend leaves it out, and DryRun says the same.
func TestADestinationFilterLeavesThatDestinationOutAndTheOthersGetTheMessage(t *testing.T) {
	eng, store, dir := startRoutes(t, destFilterRoutes)
	ctx := context.Background()
	ch := eng.Channel("lab")
	orm := strings.Replace(adtMsg, "ADT^A01", "ORM^O01", 1) // neither lab-only's nor broken's
	res := ch.Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(orm)})
	if !res.Accepted() || res.Status != engine.StatusTransformed {
		t.Fatalf("processed: %+v", res)
	}
	m := waitFinal(t, store, res.MessageID)
	if m.Status != engine.StatusSent {
		t.Errorf("message status %s, want SENT (a FILTERED destination counts as done)", m.Status)
	}
	if d := destStatus(m, "all"); d.Status != engine.StatusSent {
		t.Errorf("all: %+v", d)
	}
	lab := destStatus(m, "lab-only")
	if lab.Status != engine.StatusFiltered || lab.Attempts != 0 || lab.LastError != "" ||
		!strings.Contains(lab.Reason, "routes.yaml:14") || !strings.Contains(lab.Reason, `get("MSH-9.1") == "ORU"`) {
		t.Errorf("lab-only: %+v", lab)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out", "lab")); len(entries) != 0 {
		t.Errorf("lab-only got %d files", len(entries))
	}
	dry := ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(orm)})
	if dry.Status != engine.StatusTransformed || !slices.Equal(dry.Destinations, []string{"all"}) ||
		len(dry.Skipped) != 2 || dry.Skipped[0].Name != "lab-only" || dry.Skipped[0].Status != engine.StatusFiltered ||
		dry.Skipped[0].Reason != lab.Reason {
		t.Errorf("dry run: %+v", dry)
	}
	list, err := store.ListMessages(ctx, engine.MessageFilter{DestinationStatus: engine.StatusFiltered, Destination: "lab-only"})
	if err != nil || len(list) != 1 || list[0].ID != res.MessageID || destStatus(&engine.MessageDetail{MessageSummary: list[0]}, "lab-only").Reason != lab.Reason {
		t.Errorf("listed FILTERED for lab-only: %+v %v", list, err)
	}
	stats, err := store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := stats["lab"].Destinations["lab-only"]; c.Filtered != 1 || c.Queued != 0 {
		t.Errorf("lab-only counts %+v", c)
	}
	names, err := eng.Resend(ctx, res.MessageID, nil, nil, "test")
	if err != nil || !slices.Equal(names, []string{"all"}) {
		t.Errorf("resend of all: %v %v (a FILTERED destination is not resent)", names, err)
	}
	if d := destStatus(waitFinal(t, store, res.MessageID), "lab-only"); d.Status != engine.StatusFiltered {
		t.Errorf("lab-only after resend: %+v", d)
	}
}

// A message every destination's filter leaves out is FILTERED, with nothing queued.
func TestAMessageAllOfWhoseDestinationsFilterItIsFiltered(t *testing.T) {
	dir := t.TempDir()
	routes := strings.Replace(destFilterRoutes, "      - name: all\n        type: file\n        dir: out/all\n        filename: \"{id}.hl7\"\n", "", 1)
	eng, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(routes))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	eng.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(context.Background())
	ctx := context.Background()
	res := eng.Channel("lab").Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(strings.Replace(adtMsg, "ADT^A01", "ORM^O01", 1))})
	if !res.Accepted() || res.Status != engine.StatusTransformed || eng.Channel("lab").ACKCode(res) != "AA" {
		t.Fatalf("processed: %+v", res)
	}
	m, err := store.GetMessage(ctx, res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != engine.StatusFiltered || len(m.Destinations) != 2 {
		t.Errorf("message %s, destinations %+v", m.Status, m.Destinations)
	}
	if _, err := eng.Resend(ctx, res.MessageID, nil, nil, "test"); !errors.Is(err, engine.ErrNoDeliveries) {
		t.Errorf("resend of a message every filter left out: %v", err)
	}
}

// A destination filter that fails makes that destination ERROR, with the error; the
// message still goes to the others (and is ERROR overall, as with any failed delivery).
func TestADestinationFilterThatFailsMakesThatDestinationError(t *testing.T) {
	eng, store, _ := startRoutes(t, destFilterRoutes)
	ctx := context.Background()
	ch := eng.Channel("lab")
	res := ch.Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(adtMsg)})
	if !res.Accepted() || res.Status != engine.StatusTransformed {
		t.Fatalf("processed: %+v", res)
	}
	m := waitFinal(t, store, res.MessageID)
	if m.Status != engine.StatusError {
		t.Errorf("message status %s, want ERROR", m.Status)
	}
	if d := destStatus(m, "all"); d.Status != engine.StatusSent {
		t.Errorf("all: %+v", d)
	}
	if d := destStatus(m, "lab-only"); d.Status != engine.StatusFiltered {
		t.Errorf("lab-only: %+v", d)
	}
	broken := destStatus(m, "broken")
	if broken.Status != engine.StatusError || broken.Attempts != 0 || !strings.Contains(broken.LastError, "routes.yaml:19") {
		t.Errorf("broken: %+v", broken)
	}
	dry := ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(adtMsg)})
	if !slices.Equal(dry.Destinations, []string{"all"}) || len(dry.Skipped) != 2 || dry.Skipped[1].Status != engine.StatusError {
		t.Errorf("dry run: %+v", dry)
	}
	stats, _ := store.Stats(ctx)
	if c := stats["lab"].Destinations["broken"]; c.Error != 1 {
		t.Errorf("broken counts %+v", c)
	}
}

// filter: on a destination is checked when the configuration loads, with FILE:LINE.
func TestADestinationFilterIsCheckedAtLoad(t *testing.T) {
	bad := strings.Replace(destFilterRoutes, `filter: ['get("MSH-9.1") == "ORU"']`, `filter: ['get("MSH-9.1") ==']`, 1)
	_, err := engine.LoadBytes("routes.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:14") {
		t.Errorf("load: %v", err)
	}
}
