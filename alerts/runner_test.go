package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/alerts"
	"junction/engine"
)

func TestAnErrorsAlertGoingBackAndForthAcrossItsThresholdNotifiesOnceNotAtEveryEvaluation(t *testing.T) {
	hook := newHookReceiver(t)
	r := startRig(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
alerts:
  - name: lab-errors
    when: { errors: { channel: lab, more_than: 0, within: 1m } }
    notify: [ { webhook: { url: "`+hook.URL+`" } } ]
    renotify: 1h
`)
	t0 := time.Date(2030, 1, 7, 7, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	refuse := func(s int) { // a message in ERROR received at t0+s
		t.Helper()
		if _, err := r.store.Accept(context.Background(), &engine.NewMessage{Channel: "lab", ReceivedAt: at(s), Status: engine.StatusError,
			DataType: "Hl7v2", Raw: []byte(adtMsg), Error: "refused by the test"}); err != nil {
			t.Fatal(err)
		}
	}
	states := func() string {
		var out []string
		for _, n := range hook.notices() {
			out = append(out, n.State)
		}
		return strings.Join(out, ",")
	}
	// An error a minute: the count falls to 0 for 15 s or less before the next one, at
	// evaluations 15 s apart.
	refuse(0)
	r.eval(at(10))
	for _, s := range []int{70, 140, 210} {
		r.eval(at(s - 5)) // the error before has left the window
		refuse(s)
		r.eval(at(s + 10))
	}
	if got := states(); got != "firing" {
		t.Fatalf("notices while the count went back and forth across the threshold: %s, want firing once", got)
	}
	// No more errors: it clears after two evaluation intervals (30 s) without any.
	r.eval(at(280))
	r.eval(at(295))
	if got := states(); got != "firing" {
		t.Fatalf("notices 15 s after the count fell: %s, want still only firing", got)
	}
	r.eval(at(310))
	if got := states(); got != "firing,resolved" {
		t.Fatalf("notices 30 s after the count fell: %s, want firing,resolved", got)
	}
	// Firing again within renotify (1h) of the resolved notice: recorded, not notified,
	// and its clearing is not notified either.
	refuse(330)
	r.eval(at(340))
	if sts, _ := r.store.AlertStates(context.Background()); len(sts) != 1 || !sts[0].Active() {
		t.Fatalf("want the alert active again, got %+v", sts)
	}
	r.eval(at(400))
	r.eval(at(430))
	if got := states(); got != "firing,resolved" {
		t.Fatalf("notices of a firing within renotify of the last notice: %s, want none", got)
	}
	if sts, _ := r.store.AlertStates(context.Background()); len(sts) != 0 {
		t.Fatalf("want the alert cleared, got %+v", sts)
	}
	// An hour after the last notice a firing is notified again.
	refuse(3950)
	r.eval(at(3960))
	if got := states(); got != "firing,resolved,firing" {
		t.Fatalf("notices of a firing an hour after the last notice: %s, want a new firing", got)
	}
}

// slowHook is a webhook receiver that takes delay to answer each POST, keeping only the
// notices it answered (not those whose sender gave up first); arrived has a value for
// each POST as it arrives.
type slowHook struct {
	URL     string
	arrived chan struct{}
	mu      sync.Mutex
	got     []alerts.Notice
}

func newSlowHook(t *testing.T, delay time.Duration) *slowHook {
	h := &slowHook{arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n alerts.Notice
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.arrived <- struct{}{}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the sender gave up
		}
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/hook"
	return h
}

func (h *slowHook) notices() []alerts.Notice {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alerts.Notice(nil), h.got...)
}

func TestANoticeBeingSentWhenJunctionStopsIsDeliveredBeforeTheAlertsStop(t *testing.T) {
	hook := newSlowHook(t, 300*time.Millisecond)
	r := startRig(t, t.TempDir(), `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
alerts:
  - name: lab-stopped
    when: { channel_stopped: { channel: lab } }
    notify: [ { webhook: { url: "`+hook.URL+`" } } ]
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	stopped := alerts.Supervise(ctx, r.eng, r.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	select {
	case <-hook.arrived: // the firing notice is being sent
	case <-time.After(10 * time.Second):
		t.Fatal("no notice was sent")
	}
	cancel() // Junction stops
	<-stopped
	if got := hook.notices(); len(got) != 1 || got[0].Alert != "lab-stopped" || got[0].State != "firing" {
		t.Fatalf("want the firing notice delivered before the alerts stopped, got %+v", got)
	}
}
