package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/engine"
)

// Story 7: while the downstream system is down, accepted messages wait in the queue, and
// they survive a restart of junction: once both are back, all arrive, in order.
func TestQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	recvAddr := freeAddr(t) // nothing listens here until later
	j := startJunction(t, routesWith(
		httpChannel("ed-adt", "emergency-care", "http://{{RECV}}/in", "{ backoff: 50ms, max_backoff: 200ms }"),
	), map[string]string{"RECV": recvAddr})

	const n = 20
	var sent []string
	ids := map[string]int64{}
	for i := range n {
		cid := fmt.Sprintf("E2E-Q-%02d", i)
		r := postHL7(t, j.IngestURL(), "emergency-care", adt(cid, "Smith"))
		if r.Status != http.StatusOK {
			t.Fatalf("message %d: status %d body %q", i, r.Status, r.Body)
		}
		if a := parseACK(t, r.Body); a.Code() != "AA" || a.RefControlID() != cid {
			t.Fatalf("message %d: ACK %q, want AA for %s", i, r.Body, cid)
		}
		sent = append(sent, cid)
		ids[cid] = r.MessageID()
	}
	// The head has been tried (and failed) at least once, and everything is QUEUED.
	waitFor(t, waitDefault, "the head of the queue to have failed once", func() (bool, string) {
		d := j.Message(t, ids[sent[0]]).Destination("downstream")
		return d != nil && d.Attempts >= 1 && d.LastError != "", fmt.Sprintf("%+v", d)
	})
	ms := j.AllMessages(t, "")
	if len(ms) != n {
		t.Fatalf("API lists %d messages, want %d", len(ms), n)
	}
	for _, m := range ms {
		if m.Status != "QUEUED" {
			t.Errorf("message %s is %s while the receiver is down, want QUEUED", m.ControlID, m.Status)
		}
	}
	if q := j.Messages(t, "status=QUEUED"); len(q) != n {
		t.Errorf("GET /api/messages?status=QUEUED lists %d, want %d", len(q), n)
	}

	j.Stop()
	if j.Running() {
		t.Fatal("junction still running after SIGTERM")
	}
	recv := newReceiverAt(t, recvAddr, nil)
	j.Start()

	waitFor(t, waitDefault, "all queued messages at the receiver", func() (bool, string) {
		got := recv.Accepted()
		return len(got) >= n, fmt.Sprintf("%d of %d", len(got), n)
	})
	if got := recv.Accepted(); strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Errorf("after the restart, received\n %v\nwant\n %v", got, sent)
	}
	waitFor(t, waitDefault, "every message SENT in the API", func() (bool, string) {
		var not []string
		for _, m := range j.AllMessages(t, "") {
			if m.Status != "SENT" {
				not = append(not, m.ControlID+"="+m.Status)
			}
		}
		return len(not) == 0, strings.Join(not, " ")
	})
	j.Stop()
}

// Story 8: junction is killed (-9) while 16 senders are posting. Whatever was acknowledged
// AA must be in the store and reach the receiver after a restart (at least once).
func TestKillDuringLoad(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t, nil)
	j := startJunction(t, routesWith(
		httpChannel("ed-adt", "emergency-care", recv.URL, "{ backoff: 50ms, max_backoff: 500ms }"),
	), nil)

	const senders = 16
	var (
		mu      sync.Mutex
		acked   []string
		wg      sync.WaitGroup
		refused atomic.Int64
	)
	start := time.Now()
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < 3*time.Second; i++ {
				cid := fmt.Sprintf("E2E-K%02d-%05d", g, i)
				r, err := send(http.MethodPost, j.IngestURL(), ingestHeaders("emergency-care", "r0d", "Hl7v2"), adt(cid, "Smith"))
				if err != nil {
					// Killed mid-request, or not listening any more: keep the load on, gently.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if r.Status == http.StatusOK && strings.HasPrefix(r.Body, "MSH|") && strings.Contains(r.Body, "\rMSA|AA|"+cid+"|") {
					mu.Lock()
					acked = append(acked, cid)
					mu.Unlock()
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// Kill it mid-load: half way through, once some messages have been acknowledged.
	waitFor(t, waitDefault, "half the load time and some acknowledged messages", func() (bool, string) {
		return count() >= 20 && time.Since(start) > 1500*time.Millisecond, fmt.Sprint(count())
	})
	j.Kill()
	killedAt := count()
	wg.Wait() // the senders go on until their 3s are up
	if refused.Load() > 0 {
		t.Errorf("%d posts were answered but not AA before the kill", refused.Load())
	}
	mu.Lock()
	ackedSet := map[string]bool{}
	for _, c := range acked {
		ackedSet[c] = true
	}
	mu.Unlock()
	t.Logf("%d messages acknowledged (%d when the kill was sent); %d at the receiver before the restart", len(ackedSet), killedAt, len(recv.Got()))
	if len(ackedSet) == 0 {
		t.Fatal("nothing was acknowledged before the kill: the test proves nothing")
	}

	restarted := time.Now()
	j.Start()
	// After kill -9 the dead process's queue lease has to expire before the queue moves:
	// allow for that. A delivery is recorded SENT only after the receiver answered, so once
	// nothing is QUEUED every stored message has been received.
	waitFor(t, 90*time.Second, "the queue to drain after the restart", func() (bool, string) {
		q := j.Messages(t, "status=QUEUED&limit=1")
		return len(q) == 0, fmt.Sprintf("%d QUEUED listed", len(q))
	})
	t.Logf("queue drained %s after the restart", time.Since(restarted).Round(100*time.Millisecond))

	all := j.AllMessages(t, "")
	inAPI := map[string]APIMessage{}
	for _, m := range all {
		inAPI[m.ControlID] = m
	}
	if len(all) < len(ackedSet) {
		t.Errorf("API lists %d messages, fewer than the %d acknowledged", len(all), len(ackedSet))
	}
	var lost []string
	for c := range ackedSet {
		if _, ok := inAPI[c]; !ok {
			lost = append(lost, c)
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 {
		t.Errorf("%d acknowledged messages are not in the API: %v", len(lost), firstN(lost, 20))
	}
	received := map[string]int{}
	for _, g := range recv.Got() {
		received[g.ControlID]++
	}
	var unsent []string
	for c := range ackedSet {
		if received[c] == 0 {
			unsent = append(unsent, c)
		}
	}
	sort.Strings(unsent)
	if len(unsent) > 0 {
		t.Errorf("%d acknowledged messages never reached the receiver: %v", len(unsent), firstN(unsent, 20))
	}
	dups, bad := 0, 0
	for _, m := range all {
		if m.Status != "SENT" || received[m.ControlID] == 0 {
			if bad++; bad <= 20 {
				t.Errorf("message %d (%s) is %s after the queue drained and reached the receiver %d times; want SENT, at least once", m.ID, m.ControlID, m.Status, received[m.ControlID])
			}
		}
		if received[m.ControlID] > 1 {
			dups++
		}
	}
	// The lifetime counters are kept in the same transactions as the rows: a crash must
	// not make them drift.
	for _, c := range j.Channels(t) {
		if c.Name != "ed-adt" || len(c.Destinations) != 1 {
			t.Fatalf("unexpected channel %+v", c)
		}
		cnt := c.Destinations[0].Counts
		if c.Stats.Received != int64(len(all)) || cnt.Sent != int64(len(all)) || cnt.Queued != 0 || cnt.Error != 0 {
			t.Errorf("channel stats: received %d, downstream queued %d sent %d error %d; want %d received and sent",
				c.Stats.Received, cnt.Queued, cnt.Sent, cnt.Error, len(all))
		}
	}
	// Results go to the store as the sends return, and a worker starts a send only while
	// fewer than engine.MaxUnrecorded of its sends lack a committed result: the kill leaves
	// at most that many sent but not recorded, which are sent again.
	if dups > engine.MaxUnrecorded {
		t.Errorf("%d messages delivered more than once; want at most %d (engine.MaxUnrecorded)", dups, engine.MaxUnrecorded)
	}
	t.Logf("%d messages in the API, %d requests at the receiver, %d messages delivered more than once", len(all), len(recv.Got()), dups)
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}
