package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"junction/alerts"
	"junction/engine"
)

func TestTheDashboardAndAPIShowAFiringAlertWithItsLink(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	h := newHarnessWith(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:0", url: "https://junction.example.org" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - { name: archive, type: file, dir: out }
alerts:
  - name: lab-stopped
    when: { channel_stopped: { channel: lab } }
    notify: [ { webhook: { url: "`+hook.URL+`" } } ]
  - name: lab-silent
    when: { source_silent: { channel: lab, for: 1h } }
    notify: [ { webhook: { url: "`+hook.URL+`" } } ]
`)
	ctx := context.Background()
	var empty struct {
		Alerts     []alertView
		Configured []configuredAlert
	}
	h.call("GET", "/api/alerts", nil, 200, &empty)
	if len(empty.Alerts) != 0 || len(empty.Configured) != 2 || empty.Configured[0].Name != "lab-stopped" || empty.Configured[0].Line != 9 {
		t.Fatalf("before anything holds: %+v", empty)
	}

	if err := h.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	r := alerts.New(h.eng, h.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	if err := r.Evaluate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Drain()
	var got struct {
		Alerts []alertView
	}
	h.call("GET", "/api/alerts", nil, 200, &got)
	if len(got.Alerts) != 1 {
		t.Fatalf("want the one firing alert, got %+v", got.Alerts)
	}
	a := got.Alerts[0]
	if a.Alert != "lab-stopped" || a.State != "firing" || a.Channel != "lab" || a.Link != "/channels/lab" || a.ActiveSince == nil ||
		!strings.Contains(a.Description, "channel stopped") || !strings.Contains(a.Detail, "lab is stopped") {
		t.Errorf("firing alert: %+v", a)
	}
	resp, err := http.Get(h.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`id="alerts"`, "lab-stopped", `<span class="state stopped">firing</span>`, `<a href="/channels/lab">lab</a>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
}

func TestTheDashboardShowsAnAlertFiringAndClearingWithoutAReload(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	h := newHarnessWith(t, t.TempDir(), `store: { path: junction.db }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - { name: archive, type: file, dir: out }
alerts:
  - name: lab-stopped
    when: { channel_stopped: { channel: lab } }
    notify: [ { webhook: { url: "`+hook.URL+`" } } ]
`)
	b := newBrowser(t)
	ctx := context.Background()
	r := alerts.New(h.eng, h.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	evaluate := func() {
		if err := r.Evaluate(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		r.Drain()
	}
	const shown = `(document.querySelector("#alerts").hidden ? "hidden" : "shown") + ": " + document.querySelector("#alert-rows").textContent.replace(/\s+/g, " ").trim()`
	b.open(h.base + "/")
	if s := b.eval(shown); s != "hidden: " {
		t.Fatalf("alerts section before any alert: %q", s)
	}
	if err := h.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	evaluate()
	got := b.waitJS("the firing alert on the dashboard", shown, func(s string) bool { return strings.HasPrefix(s, "shown") })
	if !strings.Contains(got, "lab-stopped") || !strings.Contains(got, "firing") || !strings.Contains(got, "channel lab is stopped") {
		t.Errorf("alerts section: %q", got)
	}
	if href := b.eval(`document.querySelector("#alert-rows a").getAttribute("href")`); href != "/channels/lab" {
		t.Errorf("the alert links to %q, want /channels/lab", href)
	}
	if err := h.eng.SetChannelState(ctx, "lab", engine.ChannelStarted, "test"); err != nil {
		t.Fatal(err)
	}
	evaluate()
	b.waitJS("the alert gone from the dashboard", shown, func(s string) bool { return s == "hidden: " })
	b.noProblems()
}
