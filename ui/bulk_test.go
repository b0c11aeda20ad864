package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"junction/engine"
)

// Two channels on one ingest listener: adt (source-domain emergency-care) and lab
// (source-domain lab). Both have a destination named archive; downstream is adt's
// only, lab-only is lab's only. adt's transform fails when PID-3 is empty: such a
// message fails at its source, never routed.
const twoChannelRoutes = `store:
  path: junction.db
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    transform:
      - 'get("PID-3.1") != "" or error("no MRN in PID-3")'
    destinations:
      - name: downstream
        type: http
        url: {{URL}}
        retry: { attempts: 1, backoff: 50ms, max_backoff: 100ms }
      - { name: archive, type: file, dir: out/adt }
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    destinations:
      - name: lab-only
        type: http
        url: {{URL}}/lab
        retry: { attempts: 1, backoff: 50ms, max_backoff: 100ms }
      - { name: archive, type: file, dir: out/lab }
`

func newTwoChannelHarness(t *testing.T) *harness {
	t.Helper()
	rc := newReceiver(t)
	h := newHarnessWith(t, t.TempDir(), strings.ReplaceAll(twoChannelRoutes, "{{URL}}", rc.srv.URL+"/in"))
	h.rc = rc
	return h
}

// postTo ingests a message for a source-domain and returns its id.
func (h *harness) postTo(domain, body string) int64 {
	h.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+h.eng.BoundAddr("HTTP")+"/$ingest", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("source-domain", domain)
	req.Header.Set("organisation-code", "r0d")
	req.Header.Set("data-type", "Hl7v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	msgs := h.messages("limit=1")
	if len(msgs) == 0 {
		h.t.Fatalf("ingest to %s: %d, nothing stored", domain, resp.StatusCode)
	}
	return msgs[0].ID
}

// getPage fetches a page's HTML.
func (h *harness) getPage(path string) string {
	h.t.Helper()
	resp, err := http.Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// failAll ingests n messages per channel while the receiver is down: each ends with its
// HTTP destination in ERROR (its archive SENT).
func (h *harness) failAll(n int) (adt, lab []int64) {
	h.t.Helper()
	h.rc.down.Store(true)
	for i := 0; i < n; i++ {
		adt = append(adt, h.postTo("emergency-care", hl7("ADT^A01", fmt.Sprint(8100+i), "Adt", "")))
		lab = append(lab, h.postTo("lab", hl7("ORU^R01", fmt.Sprint(8200+i), "Lab", "")))
	}
	for i := range adt {
		h.waitStatus(adt[i], "downstream", engine.StatusError)
		h.waitStatus(lab[i], "lab-only", engine.StatusError)
	}
	h.rc.down.Store(false)
	return adt, lab
}

func (h *harness) runJob(body map[string]any) JobView {
	h.t.Helper()
	var job JobView
	h.call("POST", "/api/jobs", body, 202, &job)
	waitFor(h.t, "the job to finish and its deliveries to settle", func() (bool, string) {
		h.call("GET", fmt.Sprintf("/api/jobs/%d", job.ID), nil, 200, &job)
		return job.State == "done" && job.Deliveries.Settled, fmt.Sprintf("%+v", job)
	})
	return job
}

// The bulk resend offers the destinations of the filtered channel only, and a job over
// both channels choosing archive and lab-only queues each message to its own channel's
// destinations only: an adt message is never queued to lab-only.
func TestABulkResendQueuesEachMessageOnlyToItsOwnChannelsDestinations(t *testing.T) {
	h := newTwoChannelHarness(t)
	adt, lab := h.failAll(2)

	page := h.getPage("/messages?channel=adt")
	if !strings.Contains(page, `name="bulk-dest" value="downstream"`) || !strings.Contains(page, `name="bulk-dest" value="archive"`) ||
		strings.Contains(page, `name="bulk-dest" value="lab-only"`) {
		t.Errorf("the adt page's bulk resend does not offer exactly downstream and archive")
	}
	page = h.getPage("/messages?destination=lab-only")
	if strings.Contains(page, `name="bulk-dest" value="downstream"`) || !strings.Contains(page, `name="bulk-dest" value="lab-only" checked`) ||
		!strings.Contains(page, `name="bulk-dest" value="archive">`) {
		t.Errorf("filtered on lab-only, the bulk resend should offer lab's destinations with lab-only alone checked")
	}

	// A destination no channel of the filter has is refused.
	var e struct{ Error string }
	h.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"channel": "adt"},
		"destinations": []string{"lab-only"}}, 400, &e)
	if !strings.Contains(e.Error, `no destination is named "lab-only" in channel adt`) {
		t.Errorf("error %q", e.Error)
	}

	// Messages in ERROR (the Errors view's Failed tab): only their failed deliveries are
	// resent, even to a destination chosen, so nothing goes again to a system that got it.
	job := h.runJob(map[string]any{"action": "resend", "filter": map[string]string{"status": "ERROR"},
		"destinations": []string{"lab-only", "archive"}})
	if job.Total != 4 || job.Succeeded != 2 || job.Failed != 0 || job.Skipped != 2 {
		t.Fatalf("job %+v", job)
	}
	for _, id := range adt {
		m := h.message(id)
		if len(m.Events) != 0 {
			t.Errorf("adt message %d: resent %+v, want nothing (archive got it; downstream was not chosen)", id, m.Events)
		}
		for _, d := range m.Destinations {
			if d.Name == "downstream" && d.Status != engine.StatusError {
				t.Errorf("adt message %d: downstream is %s: it was resent though not chosen", id, d.Status)
			}
		}
	}
	for _, id := range lab {
		m := h.message(id)
		if len(m.Events) != 1 || m.Events[0].Destination != "lab-only" {
			t.Errorf("lab message %d: resent %+v, want lab-only alone", id, m.Events)
		}
	}
	// What the resend did: the 2 lab-only deliveries, sent.
	if d := job.Deliveries; d.Followed != 2 || d.Sent != 2 || d.Failed != 0 || d.Queued != 0 {
		t.Errorf("deliveries %+v, want 2 followed, 2 sent", d)
	}
	if got := h.rc.received("|82"); len(got) != 2 {
		t.Errorf("the receiver got %d lab messages, want the 2 resent (it refused them while down)", len(got))
	}
	if got := h.rc.received("|81"); len(got) != 0 {
		t.Errorf("the receiver got an adt message %d times: adt has no lab-only", len(got))
	}

	// Filtered on the deliveries' status (the Errors view), a resend to every destination
	// resends the failed deliveries only: downstream, not the archives that got them.
	job = h.runJob(map[string]any{"action": "resend", "filter": map[string]string{"destination_status": "ERROR"}})
	if job.Total != 2 || job.Succeeded != 2 || job.Deliveries.Followed != 2 || job.Deliveries.Sent != 2 {
		t.Fatalf("job on destination_status=ERROR: %+v", job)
	}
	for _, id := range adt {
		m := h.message(id)
		if len(m.Events) != 1 || m.Events[0].Destination != "downstream" || m.Status != engine.StatusSent {
			t.Errorf("adt message %d (%s): resent %+v, want downstream alone", id, m.Status, m.Events)
		}
	}
}

// A job says what the resend did once the deliveries settle: here the receiver is still
// down, so every resent delivery fails again.
func TestAJobCountsTheDeliveriesItQueuedThatFailedAgain(t *testing.T) {
	h := newTwoChannelHarness(t)
	adt, _ := h.failAll(3)
	h.rc.down.Store(true)
	job := h.runJob(map[string]any{"action": "resend", "filter": map[string]string{"channel": "adt", "destination_status": "ERROR"},
		"destinations": []string{"downstream"}})
	if job.Total != 3 || job.Succeeded != 3 {
		t.Fatalf("job %+v", job)
	}
	if d := job.Deliveries; d.Followed != 3 || d.Failed != 3 || d.Sent != 0 || d.Queued != 0 || !d.Settled || d.CheckedAt == nil {
		t.Errorf("deliveries %+v, want 3 failed", d)
	}
	for _, id := range adt {
		if m := h.message(id); m.Events[0].Kind != "resend" {
			t.Errorf("message %d: %+v", id, m.Events)
		}
	}
	// A reprocess job follows its new messages' deliveries.
	h.rc.down.Store(false)
	job = h.runJob(map[string]any{"action": "reprocess", "filter": map[string]string{"control_id": "8101"}})
	if d := job.Deliveries; job.Total != 1 || d.Followed != 2 || d.Sent != 2 || !d.Settled {
		t.Errorf("reprocess job %+v", job)
	}
}

// The count of matching messages, and a second job on a filter whose job still runs is
// refused with 409 (a job on another filter is not).
func TestASecondJobOnTheSameFilterIsRefusedWhileTheFirstRuns(t *testing.T) {
	h := newTwoChannelHarness(t)
	for i := 0; i < 100; i++ {
		h.postTo("lab", hl7("ORU^R01", fmt.Sprint(8300+i), "Lab", ""))
	}
	var c struct {
		Count  int
		Capped bool
	}
	h.call("GET", "/api/messages/count?channel=lab", nil, 200, &c)
	if c.Count != 100 || c.Capped {
		t.Errorf("count %+v, want 100", c)
	}
	h.call("GET", "/api/messages/count?channel=nope", nil, 400, nil)

	// Jobs on one filter, one after the other as fast as they can be asked for: while one
	// runs (100 messages to resend) the next is refused, naming it. A job that finished
	// before the next request came lets that one start: ask again.
	body := `{"action": "resend", "filter": {"channel": "lab"}, "destinations": ["archive"]}`
	var refusal string
	started := map[int64]bool{}
	for try := 0; try < 100 && refusal == ""; try++ {
		status, b := h.rawPost("/api/jobs", body)
		switch status {
		case http.StatusAccepted:
			var j JobView
			json.Unmarshal(b, &j)
			started[j.ID] = true
		case http.StatusConflict:
			refusal = errorOf(b)
		default:
			t.Fatalf("job: %d %s", status, b)
		}
	}
	if refusal == "" {
		t.Fatal("no job was ever refused: each finished before the next was asked for")
	}
	var running int64
	fmt.Sscanf(refusal, "job %d (resend) is still", &running)
	if !started[running] || !strings.Contains(refusal, "on this filter: wait for it to finish, or cancel it (POST /api/jobs/") {
		t.Errorf("409 says %q (jobs started: %v)", refusal, started)
	}
	// Another filter is not held up.
	h.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"channel": "adt"}}, 202, nil)
}

// rawPost posts a JSON body to the API and returns the status and answer.
func (h *harness) rawPost(path, body string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(body))
	req.Header.Set("X-Requested-By", "test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
