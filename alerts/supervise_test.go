package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"junction/alerts"
	"junction/engine"
)

// stoppedLabRoutes is a configuration whose one alert, named alert, watches channel lab
// being stopped and notifies the webhook at url.
func stoppedLabRoutes(alert, url string) string {
	return `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab, auth: none }
    destinations:
      - { name: archive, type: file, dir: out }
alerts:
  - name: ` + alert + `
    when: { channel_stopped: { channel: lab } }
    notify: [ { webhook: { url: "` + url + `", timeout: 1m } } ]
`
}

// superviseStopped starts a rig of routes with channel lab stopped, and Supervise on it.
func superviseStopped(t *testing.T, routes string) (*rig, context.Context) {
	dir := t.TempDir()
	r := startRig(t, dir, routes)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := r.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	alerts.Supervise(ctx, r.eng, r.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return r, ctx
}

// reload writes routes and reloads the rig's engine with them.
func (r *rig) reload(ctx context.Context, routes string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.eng.Reload(ctx, "test"); err != nil {
		r.t.Fatal(err)
	}
}

// waitNotice waits for hook's notice of alert in state.
func waitNotice(t *testing.T, hook *hookReceiver, alert, state string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, n := range hook.notices() {
			if n.Alert == alert && n.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s notice of %s: %+v", state, alert, hook.notices())
		}
	}
}

func TestAReloadResolvesTheAlertItRemovedWithANoticeAndStartsTheNewOnes(t *testing.T) {
	hook := newHookReceiver(t)
	r, ctx := superviseStopped(t, stoppedLabRoutes("first", hook.URL))
	waitNotice(t, hook, "first", "firing") // evaluated at once
	r.reload(ctx, stoppedLabRoutes("second", hook.URL))
	waitNotice(t, hook, "second", "firing") // the new runner evaluates at once too
	waitNotice(t, hook, "first", "resolved")
	var states []string
	for _, n := range hook.notices() {
		states = append(states, n.Alert+" "+n.State)
		if n.Alert == "first" && n.State == "resolved" && n.Detail != "the alert was removed from the configuration (reload)" {
			t.Errorf("resolved notice of the removed alert: %+v", n)
		}
	}
	if len(states) != 3 || states[0] != "first firing" || states[1] != "first resolved" {
		t.Errorf("notices %q, want first firing, first resolved, then second firing", states)
	}
	if ev := r.lastEvent(engine.EventAlertResolved); ev.Detail == "" || ev.Channel != "lab" {
		t.Errorf("audit event of the removed alert: %+v", ev)
	}
}

func TestAReloadWhileAWebhookHangsEvaluatesTheNewAlertsAtOnce(t *testing.T) {
	release := make(chan struct{})
	hung := make(chan struct{}, 10)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		select { // never answers, until the sender gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(dead.Close)
	t.Cleanup(func() { close(release) })
	hook := newHookReceiver(t)
	r, ctx := superviseStopped(t, stoppedLabRoutes("first", dead.URL+"/hook"))
	select {
	case <-hung: // the first runner's firing notice hangs (a 1m timeout, 5 attempts)
	case <-time.After(10 * time.Second):
		t.Fatal("the first runner sent nothing")
	}
	r.reload(ctx, stoppedLabRoutes("second", hook.URL))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sts, err := r.store.AlertStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) == 1 && sts[0].Alert == "second" && sts[0].Active() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new runner did not evaluate while the old one's webhook hung: states %+v", sts)
		}
	}
	// Its notice goes out once the old runner gave up (after ReloadDrain).
	waitNotice(t, hook, "second", "firing")
}
