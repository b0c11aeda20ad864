package ui

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

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"junction/auth"
	"junction/engine"
	"junction/engine/store/sqlite"
)

// newMetricsHarness is newHarnessIn with the metrics on, wired as junction serve wires
// them: the engine's metrics and the store's commits in one registry, served at /metrics.
func newMetricsHarness(t testing.TB, dir, head string) *harness {
	t.Helper()
	rc := newReceiver(t)
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(head+strings.ReplaceAll(harnessRoutes, "{{URL}}", rc.srv.URL+"/in")), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	m, err := eng.EnableMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.SetCommitObserver(m.ObserveCommit)
	if err := eng.Start(store); err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithMetrics(reg)}
	if eng.Admin.UsersFile != "" {
		users, err := auth.LoadUsers(eng.Admin.UsersFile)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithUsers(users))
	}
	srv := httptest.NewServer(New(eng, opts...))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	})
	return &harness{t: t, eng: eng, store: store, base: srv.URL, rc: rc}
}

// scrape GETs /metrics over HTTP (with a bearer token unless "") and parses it with
// Prometheus's text parser (classic names only). It returns the status and, on 200, the
// metric families.
func (h *harness) scrape(token string) (int, map[string]*dto.MetricFamily) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+"/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	return 200, mf
}

// metric is the value of the first series of family name having these label pairs: a
// counter's or gauge's value, a histogram's count (sum, its sum). ok: one was found.
func metric(mf map[string]*dto.MetricFamily, name string, labels ...string) (v, sum float64, ok bool) {
	f := mf[name]
	if f == nil {
		return 0, 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), 0, true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), 0, true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), m.Histogram.GetSampleSum(), true
		}
	}
	return 0, 0, false
}

// ingest posts body to $ingest with the headers given (name, value, …) and returns the status.
func (h *harness) ingest(body string, headers ...string) int {
	h.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+h.eng.BoundAddr("HTTP")+"/$ingest", strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A scrape of a running admin listener shows what the engine did, message by message:
// received, filtered and refused requests at the source, each delivery attempt's outcome
// (sent, retry, error) and latency, a paused queue with its depth and age, the store's
// commits and size; every label value is a configured name or from a fixed list.
func TestAScrapeShowsWhatTheEngineReceivedAndDelivered(t *testing.T) {
	h := newMetricsHarness(t, t.TempDir(), "")
	controls := []string{"9101", "9102", "9103", "9104", "9105"}
	for _, c := range controls[:2] {
		h.waitStatus(h.post(hl7("ADT^A01", c, "Metric", "")), "downstream", engine.StatusSent)
	}
	h.post(hl7("SIU^S12", controls[2], "Metric", "")) // the channel's filter takes ADT and ORU only
	if st := h.ingest(hl7("ADT^A01", "9199", "Metric", ""), "Content-Type", "text/plain", "source-domain", "emergency-care", "data-type", "Hl7v2"); st != 400 {
		t.Fatalf("a request without organisation-code: %d, want 400", st)
	}
	// The receiver down: the first attempt is retried, the second (attempts: 2) gives up.
	h.rc.down.Store(true)
	h.waitStatus(h.post(hl7("ADT^A01", controls[3], "Metric", "")), "downstream", engine.StatusError)
	h.rc.down.Store(false)
	// A paused queue holds what comes: its depth and the age of its head show.
	h.call("POST", "/api/channels/adt/destinations/downstream/pause", nil, 200, nil)
	h.post(hl7("ADT^A01", controls[4], "Metric", ""))
	var mf map[string]*dto.MetricFamily
	waitFor(t, "the archive to have all 4 routed messages", func() (bool, string) {
		_, mf = h.scrape("")
		v, _, _ := metric(mf, "junction_deliveries", "channel", "adt", "destination", "archive", "status", "sent")
		return v == 4, fmt.Sprint(v)
	})

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"junction_messages_received_total", []string{"channel", "adt"}, 5},
		{"junction_messages_filtered_total", []string{"channel", "adt"}, 1},
		{"junction_messages_errored_total", []string{"channel", "adt"}, 0},
		{"junction_delivery_attempts_total", []string{"channel", "adt", "destination", "downstream", "outcome", "sent"}, 2},
		{"junction_delivery_attempts_total", []string{"channel", "adt", "destination", "downstream", "outcome", "retry"}, 1},
		{"junction_delivery_attempts_total", []string{"channel", "adt", "destination", "downstream", "outcome", "error"}, 1},
		{"junction_delivery_attempts_total", []string{"channel", "adt", "destination", "archive", "outcome", "sent"}, 4},
		{"junction_delivery_duration_seconds", []string{"channel", "adt", "destination", "downstream"}, 4},
		{"junction_deliveries", []string{"channel", "adt", "destination", "downstream", "status", "sent"}, 2},
		{"junction_deliveries", []string{"channel", "adt", "destination", "downstream", "status", "error"}, 1},
		{"junction_deliveries", []string{"channel", "adt", "destination", "downstream", "status", "queued"}, 1},
		{"junction_queue_depth", []string{"channel", "adt", "destination", "downstream"}, 1},
		{"junction_queue_paused", []string{"channel", "adt", "destination", "downstream"}, 1},
		{"junction_queue_depth", []string{"channel", "adt", "destination", "archive"}, 0},
		{"junction_queue_oldest_age_seconds", []string{"channel", "adt", "destination", "archive"}, 0},
		{"junction_source_request_duration_seconds", []string{"source", "ingest", "channel", "adt"}, 5},
		{"junction_source_request_duration_seconds", []string{"source", "ingest", "channel", ""}, 1},
		{"junction_source_refusals_total", []string{"source", "ingest", "channel", "", "reason", "invalid"}, 1},
		{"junction_channel_state", []string{"channel", "adt", "state", "started"}, 1},
		{"junction_channel_state", []string{"channel", "adt", "state", "stopped"}, 0},
	} {
		if got, _, ok := metric(mf, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found: %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if age, _, ok := metric(mf, "junction_queue_oldest_age_seconds", "channel", "adt", "destination", "downstream"); !ok || age <= 0 {
		t.Errorf("the paused queue's head is %v seconds old (found: %v), want > 0", age, ok)
	}
	if _, _, ok := metric(mf, "junction_source_refusals_total", "channel", "adt"); ok {
		t.Errorf("a refusal counted for channel adt, whose requests were all answered AA")
	}
	var requests float64
	for _, sync := range []string{"full", "normal"} {
		n, sum, ok := metric(mf, "junction_store_commit_batch_size", "sync", sync)
		if !ok || n < 1 {
			t.Errorf("junction_store_commit_batch_size{sync=%q}: %v commits (found: %v), want some", sync, n, ok)
		}
		requests += sum
		if d, _, ok := metric(mf, "junction_store_commit_duration_seconds", "sync", sync); !ok || d != n {
			t.Errorf("junction_store_commit_duration_seconds{sync=%q}: %v commits, want as many as their batch sizes (%v)", sync, d, n)
		}
	}
	if requests < 5+8 { // 5 accepted messages, 8 delivery results, besides leases
		t.Errorf("the commits held %v requests, want at least the 5 accepted messages and 8 results", requests)
	}
	if size, _, ok := metric(mf, "junction_store_size_bytes"); !ok || size < 4096 {
		t.Errorf("junction_store_size_bytes = %v (found: %v)", size, ok)
	}
	bounded := map[string][]string{
		"channel": {"adt", ""}, "destination": {"archive", "downstream"}, "source": {"ingest"},
		"outcome": {"sent", "retry", "error"}, "status": {"queued", "sent", "error", "filtered"},
		"reason": {"invalid"}, "sync": {"full", "normal"}, "state": {"started", "paused", "stopped", "disabled"},
	}
	for name, f := range mf {
		if !strings.HasPrefix(name, "junction_") {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				ok := false
				for _, v := range bounded[l.GetName()] {
					ok = ok || v == l.GetValue()
				}
				if !ok {
					t.Errorf("%s has %s=%q, outside its bounded values %q", name, l.GetName(), l.GetValue(), bounded[l.GetName()])
				}
			}
		}
	}
}

// With operator accounts on, /metrics asks what the API asks: a scraper without a
// credential, or with a revoked or made-up token, gets 401; an API token of any role (a
// viewer's, as Prometheus's credentials_file would hold) gets the metrics.
func TestMetricsNeedTheAPIsLoginWhenAccountsAreOn(t *testing.T) {
	dir := t.TempDir()
	for name, role := range testUsers {
		if _, err := auth.AddUser(filepath.Join(dir, "users.yaml"), name, role, name+"-secret"); err != nil {
			t.Fatal(err)
		}
	}
	h := newMetricsHarness(t, dir, "admin:\n  listen: \"127.0.0.1:0\"\n  users_file: users.yaml\n")
	h.post(hl7("ADT^A01", "9201", "Locked", ""))
	if st, _ := h.scrape(""); st != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without a credential: %d, want 401", st)
	}
	if st, _ := h.scrape("jct_madeup"); st != http.StatusUnauthorized {
		t.Fatalf("GET /metrics with a made-up token: %d, want 401", st)
	}
	ada := h.login("ada")
	token := ada.newToken("prometheus", "viewer")
	st, mf := h.scrape(token)
	if st != 200 {
		t.Fatalf("GET /metrics with a viewer's API token: %d, want 200", st)
	}
	if v, _, ok := metric(mf, "junction_messages_received_total", "channel", "adt"); !ok || v != 1 {
		t.Errorf("junction_messages_received_total{channel=adt} = %v (found: %v), want 1", v, ok)
	}
	ada.call("DELETE", "/api/tokens/prometheus", nil, 200, nil)
	if st, _ := h.scrape(token); st != http.StatusUnauthorized {
		t.Fatalf("GET /metrics with a revoked token: %d, want 401", st)
	}
}

// Without a registry (WithMetrics) there is nothing at /metrics, and it says so.
func TestMetricsAreNotFoundWhenOff(t *testing.T) {
	h := newHarness(t)
	if st, _ := h.scrape(""); st != http.StatusNotFound {
		t.Fatalf("GET /metrics with metrics off: %d, want 404", st)
	}
}
