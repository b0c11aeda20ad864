package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/ui"
)

func TestTheChannelCommandStopsPausesAndStartsAChannelThroughTheAdminAPI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(`store: { path: junction.db }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: archive, type: file, dir: out }
`), 0o644)
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
	srv := httptest.NewServer(ui.New(eng))
	defer func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	}()
	for _, a := range []struct{ action, state string }{{"stop", "stopped"}, {"pause", "paused"}, {"start", "started"}} {
		code, out, errs := capture(t, func() int { return channelCmd([]string{a.action, "-admin", srv.URL, "adt"}) })
		if code != 0 || out != "channel adt: "+a.state+"\n" || eng.ChannelState("adt") != a.state {
			t.Fatalf("channel %s: %d %q %q (engine: %s)", a.action, code, out, errs, eng.ChannelState("adt"))
		}
	}
	code, _, errs := capture(t, func() int { return channelCmd([]string{"stop", "-admin", srv.URL, "nope"}) })
	if code != 1 || !strings.Contains(errs, `no channel is named "nope"`) {
		t.Fatalf("unknown channel: %d %q", code, errs)
	}
	if code, _, _ := capture(t, func() int { return channelCmd([]string{"undeploy", "adt"}) }); code != 2 {
		t.Fatalf("unknown action: %d", code)
	}
}
