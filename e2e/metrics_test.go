package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"junction/mllp"
)

// A running junction serves Prometheus metrics at GET /metrics on its admin listener.
// After real messages over $ingest and MLLP, and a downstream that refuses once, a scrape
// parsed with the Prometheus text parser counts exactly what happened, with Go's runtime
// and the process beside, and no label names a message.
func TestARunningJunctionsMetricsCountWhatItReceivedAndSent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, _ string) int {
		if n == 1 {
			return http.StatusServiceUnavailable // the first attempt fails: one retry
		}
		return http.StatusOK
	})
	mllpAddr := freeAddr(t)
	j := startJunction(t, routesWith(httpChannel("feed", "emergency-care", rc.URL, "{ backoff: 50ms }"), mllpChannel),
		map[string]string{"MLLP": mllpAddr})

	for i := range 3 {
		if r := postHL7(t, j.IngestURL(), "emergency-care", adt(fmt.Sprintf("E2E-MET-%d", i), "Smith")); r.Status != 200 {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := postHL7(t, j.IngestURL(), "nobody-here", adt("E2E-MET-X", "Smith")); r.Status != 404 {
		t.Fatalf("unknown source-domain: %d %s", r.Status, r.Body)
	}
	c := mllp.NewClient(mllpAddr, nil, mllp.ClientOptions{AckTimeout: 10 * time.Second, DialTimeout: 5 * time.Second})
	defer c.Close()
	for i := range 2 {
		cid := fmt.Sprintf("E2E-MET-M%d", i)
		ack, err := c.Send(context.Background(), []byte(adt(cid, "Jones")))
		if err != nil || !strings.Contains(string(ack), "\rMSA|AA|"+cid) {
			t.Fatalf("MLLP %s: %v %q", cid, err, ack)
		}
	}
	waitFor(t, waitDefault, "the receiver to accept 3 messages", func() (bool, string) {
		n := len(rc.Accepted())
		return n == 3, fmt.Sprintf("%d accepted", n)
	})
	var mf map[string]*dto.MetricFamily
	waitFor(t, waitDefault, "the queues' counters to show 3 and 2 sent", func() (bool, string) {
		mf = scrape(t, "http://"+j.Admin+"/metrics", "")
		feed, _ := value(mf, "junction_deliveries", "channel", "feed", "destination", "downstream", "status", "sent")
		lab, _ := value(mf, "junction_deliveries", "channel", "lab-mllp", "destination", "archive", "status", "sent")
		return feed == 3 && lab == 2, fmt.Sprintf("feed %v, lab-mllp %v", feed, lab)
	})

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"junction_messages_received_total", []string{"channel", "feed"}, 3},
		{"junction_messages_received_total", []string{"channel", "lab-mllp"}, 2},
		{"junction_messages_filtered_total", []string{"channel", "feed"}, 0},
		{"junction_delivery_attempts_total", []string{"channel", "feed", "destination", "downstream", "outcome", "sent"}, 3},
		{"junction_delivery_attempts_total", []string{"channel", "feed", "destination", "downstream", "outcome", "retry"}, 1},
		{"junction_delivery_attempts_total", []string{"channel", "feed", "destination", "downstream", "outcome", "error"}, 0},
		{"junction_delivery_duration_seconds", []string{"channel", "feed", "destination", "downstream"}, 4},
		{"junction_delivery_attempts_total", []string{"channel", "lab-mllp", "destination", "archive", "outcome", "sent"}, 2},
		{"junction_queue_depth", []string{"channel", "feed", "destination", "downstream"}, 0},
		{"junction_queue_oldest_age_seconds", []string{"channel", "feed", "destination", "downstream"}, 0},
		{"junction_source_request_duration_seconds", []string{"source", "ingest", "channel", "feed"}, 3},
		{"junction_source_request_duration_seconds", []string{"source", "ingest", "channel", ""}, 1},
		{"junction_source_refusals_total", []string{"source", "ingest", "channel", "", "reason", "invalid"}, 1},
		{"junction_source_request_duration_seconds", []string{"source", "mllp", "channel", "lab-mllp"}, 2},
	} {
		if got, ok := value(mf, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(mf, "junction_source_refusals_total", "source", "ingest", "channel", "feed"); ok {
		t.Errorf("a refusal counted for channel feed, which refused nothing")
	}
	for _, name := range []string{"junction_store_commit_duration_seconds", "junction_store_commit_batch_size"} {
		if n, ok := value(mf, name, "sync", "full"); !ok || n < 1 {
			t.Errorf("%s{sync=full}: %v commits observed, want the accepted messages' (found %v)", name, n, ok)
		}
	}
	for _, name := range []string{"junction_store_size_bytes", "go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if v, ok := value(mf, name); !ok || v <= 0 {
			t.Errorf("%s = %v (found %v), want > 0", name, v, ok)
		}
	}
	checkLabels(t, mf, "E2E-MET")
}

// scrape GETs a Prometheus endpoint (with a bearer token unless "") and parses the answer
// with Prometheus's own text parser, which refuses names outside the classic charset.
func scrape(t testing.TB, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return mf
}

// value is the value of the series of family name with these label pairs (others may be
// there too): a counter's or gauge's value, a histogram's count. ok is false when no
// series matches.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := mf[name]
	if f == nil {
		return 0, false
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
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// checkLabels fails unless every junction_ series has only the labels of its kind, with
// values from bounded sets (channel and destination names are the configuration's), and
// none holds text from a message (marker: in every control id sent).
func checkLabels(t testing.TB, mf map[string]*dto.MetricFamily, marker string) {
	t.Helper()
	bounded := map[string]map[string]bool{
		"source":  {"ingest": true, "fhir-bundle": true, "mllp": true, "fhir-api": true, "other": true},
		"outcome": {"sent": true, "error": true, "retry": true},
		"status":  {"queued": true, "sent": true, "error": true, "filtered": true},
		"sync":    {"full": true, "normal": true},
		"reason": {"unauthorized": true, "too_large": true, "overloaded": true, "channel_stopped": true, "store_unavailable": true,
			"invalid": true, "filtered": true, "processing_error": true, "other": true},
		"state":       {"started": true, "paused": true, "stopped": true, "disabled": true},
		"channel":     {"feed": true, "lab-mllp": true, "": true},
		"destination": {"downstream": true, "archive": true},
	}
	n := 0
	for name, f := range mf {
		if !strings.HasPrefix(name, "junction_") {
			continue
		}
		n++
		if strings.HasSuffix(name, "_total") != (f.GetType() == dto.MetricType_COUNTER) {
			t.Errorf("%s is a %s: only counters end in _total", name, f.GetType())
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				allowed, known := bounded[l.GetName()]
				switch {
				case strings.Contains(l.GetValue(), marker):
					t.Errorf("%s has message text in label %s=%q", name, l.GetName(), l.GetValue())
				case !known:
					t.Errorf("%s has label %s, which is not one of the bounded labels", name, l.GetName())
				case !allowed[l.GetValue()]:
					t.Errorf("%s has %s=%q, not one of its bounded values", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if n < 15 {
		t.Errorf("%d junction_ metric families, want every one of docs/metrics.md", n)
	}
}
