package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

const stepsRoutes = `store: { path: junction.db }
functions:
  nak(): 'response() contains "MSA|AE" or response() contains "MSA|AR"'
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    transform: ['set("PID-5.1", upper(get("PID-5.1")))']
    destinations:
      - name: archive
        type: file
        dir: out
        filename: "{id}.hl7"
        transform:
          - 'set("PID-5.1", lower(get("PID-5.1")))'
          - 'set("MSH-5", "ARCHIVE")'
      - name: downstream
        type: http
        url: %s
        check_ack: false
        retry: { attempts: 1 }
        response:
          - 'response() startsWith "MSH|" or error("not an ACK")'
          - 'nak() ? error("downstream NAK") : true'
`

// A destination's transform makes its own copy of the message, stored as what it encoded,
// and its response steps turn an answer carrying a NAK into an ERROR; the message's own
// transformed content stays as the channel made it.
func TestDestinationStepsTransformTheirCopyAndJudgeTheResponse(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "MSH|^~\\&|B|B|A|A|20240213144932||ACK|9|P|2.4\rMSA|AE|1|no such patient\r")
	}))
	defer srv.Close()
	eng, err := engine.LoadBytes(filepath.Join(dir, "routes.yaml"), []byte(fmt.Sprintf(stepsRoutes, srv.URL)))
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
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	}()
	ctx := context.Background()
	adt := "MSH|^~\\&|EPR|RX1|DEX|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||123^^^H^MR||Smith^John\r"
	res := eng.Channel("lab").Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(adt)})
	if !res.Accepted() || res.Status != engine.StatusTransformed {
		t.Fatalf("processed: %+v", res)
	}
	var m *engine.MessageDetail
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, err = store.GetMessage(ctx, res.MessageID); err != nil {
			t.Fatal(err)
		}
		if settled(m) || time.Now().After(deadline) {
			break
		}
	}
	if m.Transformed == nil || !strings.Contains(*m.Transformed, "|SMITH^John") {
		t.Errorf("the message's transformed content %v: want the channel's transform only", m.Transformed)
	}
	byName := map[string]engine.DestinationStatus{}
	for _, d := range m.Destinations {
		byName[d.Name] = d
	}
	archive, downstream := byName["archive"], byName["downstream"]
	want := "MSH|^~\\&|EPR|RX1|ARCHIVE|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||123^^^H^MR||smith^John"
	if archive.Status != engine.StatusSent || archive.Encoded == nil || !strings.HasPrefix(*archive.Encoded, want) {
		t.Errorf("archive: %s, encoded %v; want SENT with %q", archive.Status, archive.Encoded, want)
	}
	file, err := os.ReadFile(filepath.Join(dir, "out", fmt.Sprintf("%d.hl7", res.MessageID)))
	if err != nil || !strings.HasPrefix(string(file), want) {
		t.Errorf("archived file %q (%v), want %q", file, err, want)
	}
	if downstream.Status != engine.StatusError || !strings.Contains(downstream.LastError, "routes.yaml:23 (channels[0].destinations[1].response[1]): downstream NAK") {
		t.Errorf("downstream: %s %q; want ERROR naming the response step", downstream.Status, downstream.LastError)
	}
	if downstream.Response == nil || !strings.Contains(*downstream.Response, "MSA|AE|1|no such patient") {
		t.Errorf("downstream response %v: want the NAK stored", downstream.Response)
	}
	if m.Status != engine.StatusError {
		t.Errorf("message status %s, want ERROR", m.Status)
	}
}

// settled reports whether every destination of m is done with it (none QUEUED): the
// message's own status may say ERROR while another destination is still sending.
func settled(m *engine.MessageDetail) bool {
	for _, d := range m.Destinations {
		if d.Status == engine.StatusQueued {
			return false
		}
	}
	return m.Status != engine.StatusQueued
}
