package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

// API tests of outages: retrying deliveries in GET /api/messages and its count, and the
// outage flags of GET /api/channels (what the dashboard polls).

// destination_status=RETRYING lists the messages whose destination failed and is trying
// again, alone or with a destination; the count and the Errors view's tab agree.
func TestMessagesAPIListsRetryingDeliveries(t *testing.T) {
	h := newRetryingHarness(t)
	id := h.post(hl7("ADT^A01", "7101", "Api", ""))
	h.waitRetrying(id)
	h.rc.down.Store(false)
	h.waitStatus(id, "downstream", engine.StatusSent) // the receiver back: nothing retrying
	if got := h.messages("destination_status=RETRYING"); len(got) != 0 {
		t.Fatalf("retrying once delivered: %+v", got)
	}
	h.rc.down.Store(true)
	id2 := h.post(hl7("ADT^A01", "7102", "Api", ""))
	h.waitRetrying(id2)

	for _, q := range []string{"destination_status=RETRYING", "destination_status=retrying&destination=downstream", "destination_status=RETRYING&channel=adt"} {
		got := h.messages(q)
		if len(got) != 1 || got[0].ID != id2 {
			t.Errorf("%s lists %+v, want message %d", q, got, id2)
			continue
		}
		for _, d := range got[0].Destinations {
			if d.Name == "downstream" && (d.Status != engine.StatusQueued || d.Attempts < 1 || !strings.Contains(d.LastError, "503")) {
				t.Errorf("%s: the retrying delivery is %+v", q, d)
			}
		}
	}
	if got := h.messages("destination_status=RETRYING&destination=archive"); len(got) != 0 {
		t.Errorf("archive retrying: %+v", got)
	}
	var c struct{ Count int }
	h.call("GET", "/api/messages/count?destination_status=RETRYING", nil, 200, &c)
	if c.Count != 1 {
		t.Errorf("count %d, want 1", c.Count)
	}
	var e struct{ Error string }
	h.call("GET", "/api/messages?destination_status=TRYING", nil, 400, &e)
	if !strings.Contains(e.Error, "RETRYING") {
		t.Errorf("a wrong destination status: %q", e.Error)
	}
	page := h.getPage("/messages?status=ERROR")
	if !strings.Contains(page, `href="/messages?destination_status=RETRYING"`) || !strings.Contains(page, `Retrying <span class="count">1</span>`) {
		t.Errorf("the Errors view has no Retrying tab counting 1")
	}
}

// setThreshold sets an outage threshold for a test.
func setThreshold(t *testing.T, v *time.Duration, d time.Duration) {
	old := *v
	*v = d
	t.Cleanup(func() { *v = old })
}

// health reads the outage flags of GET /api/channels.
func (h *harness) health() (map[string]*channelHealth, map[string]*destHealth) {
	h.t.Helper()
	var chans struct{ Channels []channelView }
	h.call("GET", "/api/channels", nil, 200, &chans)
	ch, dest := map[string]*channelHealth{}, map[string]*destHealth{}
	for _, c := range chans.Channels {
		ch[c.Name] = c.Health
		for _, d := range c.Destinations {
			dest[c.Name+"/"+d.Name] = d.Health
		}
	}
	return ch, dest
}

// A queue whose downstream refuses messages grows and gets old; a channel that received
// two messages and then nothing is silent, one that received once is not.
func TestChannelsAPIFlagsGrowingAndOldQueuesAndSilentSources(t *testing.T) {
	oldEvery := engine.SampleEvery
	engine.SampleEvery = 20 * time.Millisecond
	t.Cleanup(func() { engine.SampleEvery = oldEvery })
	setThreshold(t, &oldQueueAfter, 300*time.Millisecond)
	setThreshold(t, &silentAfter, 300*time.Millisecond)
	h := newRetryingHarness(t)

	for i := 0; i < 3; i++ {
		id := h.post(hl7("ADT^A01", fmt.Sprint(7200+i), "Grow", ""))
		waitFor(t, "a sample holding the new depth", func() (bool, string) {
			hist := h.eng.StatsHistory()
			n := hist[len(hist)-1].Stats["adt"].Destinations["downstream"].Queued
			return n == int64(i+1), fmt.Sprint(n, " queued, message ", id)
		})
	}
	waitFor(t, "the queue to be flagged growing and old, and adt silent", func() (bool, string) {
		ch, d := h.health()
		q := d["adt/downstream"]
		return q.Growing && q.Old && q.OldestQueued != nil && ch["adt"].Silent, fmt.Sprintf("%+v %+v", q, ch["adt"])
	})
	ch, d := h.health()
	if a := d["adt/archive"]; a.Growing || a.Old || a.Failing || a.State != "running" {
		t.Errorf("the archive, delivering: %+v", a)
	}
	if q := d["adt/downstream"]; !q.Failing || q.State != "failing" {
		t.Errorf("the refused downstream: %+v", q)
	}
	if ch["adt"].LastReceived == nil {
		t.Errorf("adt's last message: %+v", ch["adt"])
	}
	page := h.getPage("/")
	for _, want := range []string{"queue growing", "oldest queued message received", `class="state stopped silent" data-silent="adt" title=`} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	if page := h.getPage("/channels/adt"); !strings.Contains(page, `<span class="state failing">failing</span><div class="outage small"><div class="flag bad">failing since `) {
		t.Errorf("the channel page does not show the downstream failing")
	}
}

// A source that received once (never a feed) is not silent.
func TestChannelsAPIDoesNotFlagAChannelThatReceivedOnceAsSilent(t *testing.T) {
	setThreshold(t, &silentAfter, 100*time.Millisecond)
	h := newTwoChannelHarness(t)
	id := h.postTo("lab", hl7("ORU^R01", "7301", "Once", ""))
	received := h.message(id).ReceivedAt
	waitFor(t, "the silence threshold to pass", func() (bool, string) {
		return time.Since(received) > 2*silentAfter, ""
	})
	ch, _ := h.health()
	if ch["lab"] == nil || ch["lab"].Silent || ch["lab"].LastReceived == nil {
		t.Errorf("lab, received once: %+v", ch["lab"])
	}
	if ch["adt"] == nil || ch["adt"].Silent || ch["adt"].LastReceived != nil {
		t.Errorf("adt, never received: %+v", ch["adt"])
	}
}

// A bulk resend of the Retrying tab resends the retrying deliveries only: not to the
// archive that got the message.
func TestABulkResendOfRetryingMessagesResendsOnlyTheRetryingDeliveries(t *testing.T) {
	h := newRetryingHarness(t)
	id := h.post(hl7("ADT^A01", "7401", "Bulk", ""))
	h.waitRetrying(id)
	h.waitStatus(id, "archive", engine.StatusSent)
	var job JobView
	h.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"destination_status": "RETRYING"}}, 202, &job)
	waitFor(t, "the job to finish", func() (bool, string) {
		h.call("GET", fmt.Sprintf("/api/jobs/%d", job.ID), nil, 200, &job)
		return job.State == "done", fmt.Sprintf("%+v", job)
	})
	if job.Total != 1 || job.Succeeded != 1 {
		t.Fatalf("job %+v", job)
	}
	m := h.message(id)
	if len(m.Events) != 1 || m.Events[0].Destination != "downstream" {
		t.Errorf("resent %+v, want downstream only", m.Events)
	}
	h.rc.down.Store(false)
	h.waitStatus(id, "downstream", engine.StatusSent)
	if got := h.rc.received("|7401|"); len(got) != 1 {
		t.Errorf("the receiver got the message %d times", len(got))
	}
}

// The Errors view's Failed tab filters on the message's status: resending it sends only
// to the destinations that failed, never again to those that got the message.
func TestABulkResendOfFailedMessagesResendsOnlyTheFailedDeliveries(t *testing.T) {
	h := newHarness(t)
	h.rc.down.Store(true) // downstream answers 503 until its two attempts are spent: ERROR
	id := h.post(hl7("ADT^A01", "7402", "Failed", ""))
	h.waitStatus(id, "downstream", engine.StatusError)
	h.waitStatus(id, "archive", engine.StatusSent)
	var job JobView
	h.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"status": "ERROR"}}, 202, &job)
	waitFor(t, "the job to finish", func() (bool, string) {
		h.call("GET", fmt.Sprintf("/api/jobs/%d", job.ID), nil, 200, &job)
		return job.State == "done", fmt.Sprintf("%+v", job)
	})
	m := h.message(id)
	if len(m.Events) != 1 || m.Events[0].Destination != "downstream" {
		t.Fatalf("resent %+v, want downstream only", m.Events)
	}
}
