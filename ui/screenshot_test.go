package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"junction/engine"
	"junction/engine/store/sqlite"
)

// TestScreenshots takes the README's screenshots (make screenshots): a real engine with
// two channels, realistic HL7v2 traffic for about a minute with a downstream system
// that fails for a while, an operator's resend and a paused queue; then headless
// Chromium photographs the dashboard, the message browser and a message. It runs only
// when JUNCTION_SCREENSHOTS names the folder for the PNG files.
func TestScreenshots(t *testing.T) {
	out := os.Getenv("JUNCTION_SCREENSHOTS")
	if out == "" {
		t.Skip("set JUNCTION_SCREENSHOTS to a folder to take the UI's screenshots")
	}
	oldEvery := engine.SampleEvery
	engine.SampleEvery = time.Second
	defer func() { engine.SampleEvery = oldEvery }()

	epr := newReceiver(t)
	var pasDown atomic.Bool
	pas := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if pasDown.Load() {
			http.Error(w, "PAS interface engine unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("MSH|^~\\&|PAS|RX1|JUNCTION|QVV|20240213144933||ACK|A1|P|2.4\rMSA|AA|1\r"))
	}))
	defer pas.Close()
	dir := t.TempDir()
	routes := `admin: { listen: "127.0.0.1:0" }
store: { path: junction.db }
channels:
  - name: ed-adt
    description: Emergency department patient administration (ADT) to the EPR, the PAS and the archive
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [Hl7v2] }
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'set("MSH-5", "EPR")'
    destinations:
      - { name: archive, type: file, dir: out/ed-adt }
      - { name: epr, type: http, url: "` + epr.srv.URL + `/adt" }
      - name: pas
        type: http
        url: ` + pas.URL + `/hl7
        check_ack: true
        retry: { attempts: 3, backoff: 200ms, max_backoff: 1s }
  - name: lab-results
    description: Pathology results (ORU) to the EPR
    source: { type: ingest, listen: "127.0.0.1:0", domain: pathology, data_types: [Hl7v2] }
    filter:
      - 'get("MSH-9.1") == "ORU"'
    destinations:
      - { name: epr, type: http, url: "` + epr.srv.URL + `/oru" }
      - { name: archive, type: file, dir: out/lab }
`
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
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
	srv := httptest.NewServer(New(eng))
	defer func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	}()
	h := &harness{t: t, eng: eng, store: store, base: srv.URL, rc: epr}
	ingestAddr := "http://" + eng.BoundAddr("HTTP") + "/$ingest"

	post := func(domain, body string) {
		req, _ := http.NewRequest("POST", ingestAddr, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		req.Header.Set("source-domain", domain)
		req.Header.Set("organisation-code", []string{"RX1", "R0D", "RAE"}[rand.IntN(3)])
		req.Header.Set("data-type", "Hl7v2")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	families := []string{"Fernández", "Smith", "O'Brien", "Nowak", "Okafor", "Jones", "Patel", "Williams", "Müller", "Taylor", "Khan", "Brown"}
	givens := []string{"José", "Amelia", "Liam", "Zofia", "Chidi", "Olivia", "Priya", "Noah", "Greta", "Isla", "Omar", "Ava"}
	wards := []string{"ED^MAJORS^BED4", "ED^RESUS^BAY2", "AMU^^BED12", "WARD7^^BED3"}
	n := 0
	adt := func() string {
		n++
		i := rand.IntN(len(families))
		typ := []string{"ADT^A01", "ADT^A08", "ADT^A03", "ADT^A02"}[rand.IntN(4)]
		if rand.IntN(12) == 0 {
			typ = "SIU^S12" // filtered
		}
		ts := time.Now().UTC().Format("20060102150405")
		return fmt.Sprintf("MSH|^~\\&|SYMPHONY|RX1|DEX|QVV|%s||%s|%08d|P|2.4\rEVN|%s|%s\r"+
			"PID|1||%010d^^^NHS^NH~%d^^^RX1^MR||%s^%s||19%02d%02d%02d|%s|||%d High Street^^Leeds^^LS%d %dAB^GBR\r"+
			"PV1|1|E|%s|||||C%07d^JONES^ALICE^^^DR\r",
			ts, typ, 8457000+n, strings.Split(typ, "^")[1], ts, 9434765000+rand.IntN(999), 100000+rand.IntN(900000), families[i], givens[i],
			40+rand.IntN(60), 1+rand.IntN(12), 1+rand.IntN(28), []string{"M", "F"}[rand.IntN(2)], 1+rand.IntN(200), 1+rand.IntN(20), rand.IntN(9),
			wards[rand.IntN(len(wards))], rand.IntN(9999999))
	}
	oru := func() string {
		n++
		i := rand.IntN(len(families))
		ts := time.Now().UTC().Format("20060102150405")
		return fmt.Sprintf("MSH|^~\\&|WINPATH|RX1|EPR|RX1|%s||ORU^R01|LAB%07d|P|2.4\r"+
			"PID|1||%010d^^^NHS^NH||%s^%s||1970%02d%02d|F\r"+
			"OBR|1|ORD%d|LAB%d|24331-1^LIPID PANEL^LN|||%s\r"+
			"OBX|1|NM|2093-3^CHOLESTEROL TOTAL^LN||%d.%d|mmol/L|3.0-5.0|N|||F\r"+
			"OBX|2|NM|2085-9^HDL CHOLESTEROL^LN||1.%d|mmol/L|>1.0|N|||F\r",
			ts, n, 9434765000+rand.IntN(999), families[i], givens[i], 1+rand.IntN(12), 1+rand.IntN(28), n, n, ts, 3+rand.IntN(4), rand.IntN(10), rand.IntN(10))
	}

	// About a minute of traffic: a steady ADT feed with a burst, results now and then;
	// the PAS is down for a stretch in the middle, so some deliveries fail.
	start := time.Now()
	for time.Since(start) < 70*time.Second {
		el := time.Since(start)
		pasDown.Store(el > 25*time.Second && el < 38*time.Second)
		per := 2 + rand.IntN(3)
		if el > 45*time.Second && el < 55*time.Second {
			per = 8 + rand.IntN(5)
		}
		for i := 0; i < per; i++ {
			post("emergency-care", adt())
		}
		if rand.IntN(2) == 0 {
			post("pathology", oru())
		}
		if rand.IntN(25) == 0 {
			post("emergency-care", "MSH|^~\\&|SYMPHONY|RX1|DEX|QVV|20240213144932||ADT^A01||P|2.4\rPID|1||123\r") // no MSH-10
		}
		time.Sleep(time.Second)
	}
	// The operator resends a few of the failed messages, and pauses a queue.
	failed := h.messages("destination=pas&destination_status=ERROR&limit=3")
	for _, m := range failed {
		h.call("POST", fmt.Sprintf("/api/messages/%d/resend", m.ID), map[string]any{"destinations": []string{"pas"}}, 200, nil)
	}
	h.call("POST", "/api/channels/lab-results/destinations/archive/pause", nil, 200, nil)
	post("pathology", oru())
	post("pathology", oru())
	h.waitIndexed()
	time.Sleep(3 * time.Second)

	b := newBrowser(t)
	shot := func(name, url string, prepare ...chromedp.Action[chromedp.Void]) {
		b.open(url)
		b.run(prepare...)
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", name, len(png))
	}
	shot("ui-dashboard.png", srv.URL+"/", chromedp.WaitReady(chromedp.CSS("#chart path")))
	shot("ui-messages.png", srv.URL+"/messages?channel=ed-adt&q=smith")
	// A message whose PAS delivery failed and was resent, with its transform's diff.
	var detail int64
	if len(failed) > 0 {
		detail = failed[0].ID
	} else {
		detail = h.messages("channel=ed-adt&status=SENT&limit=1")[0].ID
	}
	b.open(fmt.Sprintf("%s/messages/%d", srv.URL, detail))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "ui-message.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	b.noProblems()
}
