package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"junction/alerts"
	"junction/engine"
)

func TestAReloadStartsTheAlertsOfTheNewConfiguration(t *testing.T) {
	hook := newHookReceiver(t)
	routes := func(alert string) string {
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
    notify: [ { webhook: { url: "` + hook.URL + `" } } ]
`
	}
	dir := t.TempDir()
	r := startRig(t, dir, routes("first"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.eng.SetChannelState(ctx, "lab", engine.ChannelStopped, "test"); err != nil {
		t.Fatal(err)
	}
	alerts.Supervise(ctx, r.eng, r.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	waitNotice := func(alert string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			for _, n := range hook.notices() {
				if n.Alert == alert && n.State == "firing" {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no firing notice of %s: %+v", alert, hook.notices())
			}
		}
	}
	waitNotice("first") // evaluated at once
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes("second")), 0o644)
	if _, err := r.eng.Reload(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	waitNotice("second") // the new runner evaluates at once too
}
