package connectors

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

// flakyReceiver answers 503 until up is set, then 200, counting the 200s by path.
type flakyReceiver struct {
	srv *httptest.Server
	up  atomic.Bool
	mu  sync.Mutex
	got map[string]int
}

func startFlakyReceiver(t *testing.T) *flakyReceiver {
	r := &flakyReceiver{got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.got[req.URL.Path]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *flakyReceiver) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[path]
}

// twoChannelRoutes: ed-adt and lab share one $ingest listener, by source-domain.
func twoChannelRoutes(rcv string) string {
	return fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: ed-adt
    source: { type: ingest, listen: 127.0.0.1:0, domain: emergency-care, data_types: [Hl7v2] }
    destinations:
      - { name: out, type: http, url: "%[1]s/ed", retry: { backoff: 20ms, max_backoff: 50ms } }
  - name: lab
    source: { type: ingest, listen: 127.0.0.1:0, domain: lab, data_types: [Hl7v2] }
    destinations:
      - { name: out, type: http, url: "%[1]s/lab", retry: { backoff: 20ms, max_backoff: 50ms } }
`, rcv)
}

// startIn runs routes from dir (the same dir again: the same store file), stopped by the
// returned function (also at the end of the test).
func startIn(t *testing.T, dir, routes string) (*engine.Engine, func()) {
	t.Helper()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = discard()
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			eng.Stop(ctx)
			store.Close()
		})
	}
	t.Cleanup(stop)
	return eng, stop
}

func TestAStoppedChannelRefusesNamingItselfWhileItsNeighbourOnTheSameListenerKeepsTakingMessagesAndItsQueueWaitsForStart(t *testing.T) {
	rcv := startFlakyReceiver(t)
	dir := t.TempDir()
	eng, stop := startIn(t, dir, twoChannelRoutes(rcv.srv.URL))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	ctx := context.Background()

	// Accepted while the receiver is down: queued, retried.
	if status, _, body := post(t, url, "POST", headers(), adtA01); status != 200 || !strings.Contains(body, "MSA|AA") {
		t.Fatalf("before stop: %d %q", status, body)
	}
	if err := eng.SetChannelState(ctx, "ed-adt", engine.ChannelStopped, "by tester"); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := post(t, url, "POST", headers(), adtA01)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "MSA|AE") ||
		!strings.Contains(body, "channel ed-adt is stopped by an operator") || hdr.Get("Retry-After") == "" {
		t.Fatalf("stopped channel answered %d %v %q", status, hdr, body)
	}

	// The receiver comes up: the neighbour delivers, the stopped channel's queue waits.
	time.Sleep(100 * time.Millisecond) // a send in flight when the channel stopped finishes
	rcv.up.Store(true)
	if status, _, body := post(t, url, "POST", headers("source-domain", "lab"), adtA01); status != 200 || !strings.Contains(body, "MSA|AA") {
		t.Fatalf("neighbour: %d %q", status, body)
	}
	waitFor(t, "lab's delivery", func() bool { return rcv.count("/lab") == 1 })
	time.Sleep(300 * time.Millisecond) // several of ed-adt's retry periods
	if n := rcv.count("/ed"); n != 0 {
		t.Fatalf("a stopped channel's destination sent %d messages", n)
	}
	if c := stats(t, eng)["ed-adt"].Destinations["out"]; c.Queued != 1 {
		t.Fatalf("ed-adt's queue: %+v, want 1 queued", c)
	}

	// The state survives a restart with the same store file.
	stop()
	eng, _ = startIn(t, dir, twoChannelRoutes(rcv.srv.URL))
	url = "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	if st := eng.ChannelState("ed-adt"); st != engine.ChannelStopped {
		t.Fatalf("after restart ed-adt is %s", st)
	}
	if status, _, body := post(t, url, "POST", headers(), adtA01); status != http.StatusServiceUnavailable || !strings.Contains(body, "ed-adt is stopped") {
		t.Fatalf("after restart: %d %q", status, body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := rcv.count("/ed"); n != 0 {
		t.Fatalf("after restart a stopped channel's destination sent %d messages", n)
	}

	// Started again: the held message is delivered and new ones are taken.
	if err := eng.SetChannelState(ctx, "ed-adt", engine.ChannelStarted, "by tester"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ed-adt's held delivery", func() bool { return rcv.count("/ed") == 1 })
	if status, _, body := post(t, url, "POST", headers(), adtA01); status != 200 || !strings.Contains(body, "MSA|AA") {
		t.Fatalf("after start: %d %q", status, body)
	}
	waitFor(t, "ed-adt's new delivery", func() bool { return rcv.count("/ed") == 2 })
}

func TestAPausedChannelRefusesNewMessagesButKeepsDeliveringItsQueue(t *testing.T) {
	rcv := startFlakyReceiver(t)
	eng, _ := startIn(t, t.TempDir(), twoChannelRoutes(rcv.srv.URL))
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	if status, _, _ := post(t, url, "POST", headers(), adtA01); status != 200 {
		t.Fatalf("before pause: %d", status)
	}
	if err := eng.SetChannelState(context.Background(), "ed-adt", engine.ChannelPaused, "by tester"); err != nil {
		t.Fatal(err)
	}
	status, _, body := post(t, url, "POST", headers("data-type", "Hl7v2"), adtA01)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "channel ed-adt is paused by an operator") {
		t.Fatalf("paused channel answered %d %q", status, body)
	}
	rcv.up.Store(true)
	waitFor(t, "the queued delivery of a paused channel", func() bool { return rcv.count("/ed") == 1 })
}

func stats(t *testing.T, eng *engine.Engine) map[string]engine.ChannelStats {
	t.Helper()
	st, err := eng.Store().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAStoppedMLLPChannelIsAnsweredAENamingItWhileItsNeighbourOnThePortTakesMessages(t *testing.T) {
	eng, addr, _ := startMLLP(t, `store:
  path: junction.db
channels:
  - name: lab-results
    source: { type: mllp, listen: 127.0.0.1:0, auth: none, match: { message_type: [ORU] } }
    destinations:
      - { name: archive, type: file, dir: out-oru }
  - name: lab-adt
    source: { type: mllp, listen: 127.0.0.1:0, auth: none }
    destinations:
      - { name: archive, type: file, dir: out-adt }
`)
	if err := eng.SetChannelState(context.Background(), "lab-adt", engine.ChannelStopped, "by tester"); err != nil {
		t.Fatal(err)
	}
	c := dialMLLP(t, addr, nil)
	ack := splitACK(t, sendMLLP(t, c, mllpADT("C1", "Smith")))
	if code := ack.field("MSA", 0, 1); code != "AE" || !strings.Contains(ack.raw, "channel lab-adt is stopped by an operator") {
		t.Fatalf("stopped channel's ACK: %q", ack.raw)
	}
	oru := strings.Replace(mllpADT("C2", "Smith"), "ADT^A01", "ORU^R01", 1)
	if ack := splitACK(t, sendMLLP(t, c, oru)); ack.field("MSA", 0, 1) != "AA" {
		t.Fatalf("neighbour's ACK: %q", ack.raw)
	}
}

func TestAStoppedBundleChannelAnswers503WithAnOutcomeNamingIt(t *testing.T) {
	rcv := startReceiver(t)
	eng, base := startGateway(t, rcv)
	if err := eng.SetChannelState(context.Background(), "care-gateway", engine.ChannelStopped, "by tester"); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/fhir+json", seedBundle(t))
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("stopped bundle channel: %d %v %s", status, hdr, body)
	}
	oo := parseOutcome(t, body)
	if len(oo.Issue) != 1 || oo.Issue[0].Code != "transient" || !strings.Contains(oo.Issue[0].Diagnostics, "channel care-gateway is stopped by an operator") {
		t.Fatalf("outcome: %s", body)
	}
}

func TestAStoppedFileChannelLeavesDroppedFilesInPlaceUntilStarted(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	r.start()
	ctx := context.Background()
	if err := r.eng.SetChannelState(ctx, "drop", engine.ChannelStopped, "by tester"); err != nil {
		t.Fatal(err)
	}
	r.drop("a.hl7", adtA01, time.Minute)
	time.Sleep(200 * time.Millisecond) // many polls
	if got := r.files("in"); len(got) != 1 || got[0] != "a.hl7" {
		t.Fatalf("while stopped the folder holds %q", got)
	}
	if ms := r.messages(); len(ms) != 0 {
		t.Fatalf("while stopped %d messages were read", len(ms))
	}
	if err := r.eng.SetChannelState(ctx, "drop", engine.ChannelStarted, "by tester"); err != nil {
		t.Fatal(err)
	}
	r.waitFiles("in")
	waitFor(t, "the file's message", func() bool { return len(r.messages()) == 1 })
}
