package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/ui"
)

// capture runs f with standard output and error going to strings.
func capture(t *testing.T, f func() int) (code int, stdout, stderr string) {
	t.Helper()
	or, ow, _ := os.Pipe()
	er, ew, _ := os.Pipe()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = ow, ew
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(or); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(er); errc <- string(b) }()
	code = f()
	ow.Close()
	ew.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

// The operator commands against a real engine's admin API.
func TestMessagesAndResendCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := `store: { path: junction.db }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: archive, type: file, dir: out }
`
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(cfg), 0o644)
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
	for _, c := range []string{"C1", "C2"} {
		body := "MSH|^~\\&|A|B|C|D|20240213144932||ADT^A01|" + c + "|P|2.4\rPID|1||123||GREEN^ANN\r"
		req, _ := http.NewRequest("POST", "http://"+eng.BoundAddr("HTTP")+"/$ingest", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("source-domain", "emergency-care")
		req.Header.Set("organisation-code", "r0d")
		req.Header.Set("data-type", "Hl7v2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	code, out, errs := capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL, "-channel", "adt"}) })
	if code != 0 || !strings.Contains(out, "CONTROL ID") || !strings.Contains(out, "C2") || !strings.Contains(out, "C1") {
		t.Fatalf("messages: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = capture(t, func() int {
		return messagesCmd([]string{"-admin", strings.TrimPrefix(srv.URL, "http://"), "-ids", "-limit", "1", "-all"})
	})
	if code != 0 || out != "2\n1\n" {
		t.Fatalf("messages -ids -all: %d %q", code, out)
	}
	code, out, _ = capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL, "-json", "-limit", "1"}) })
	if code != 0 || !strings.HasPrefix(out, `{"id":2,`) {
		t.Fatalf("messages -json: %d %q", code, out)
	}
	code, _, errs = capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL, "-status", "DONE"}) })
	if code != 1 || !strings.Contains(errs, "status: expected one of") {
		t.Fatalf("bad status: %d %q", code, errs)
	}

	code, out, errs = capture(t, func() int { return resendCmd([]string{"-admin", srv.URL, "-destination", "archive", "1", "2"}) })
	if code != 0 || out != "message 1: queued again for archive\nmessage 2: queued again for archive\n" {
		t.Fatalf("resend: %d %q %q", code, out, errs)
	}
	code, _, errs = capture(t, func() int { return resendCmd([]string{"-admin", srv.URL, "-destination", "nope", "1", "99"}) })
	if code != 1 || !strings.Contains(errs, `message 1: message 1 was not routed to a destination named "nope"`) || !strings.Contains(errs, "message 99: no message has id 99") {
		t.Fatalf("resend errors: %d %q", code, errs)
	}
	code, out, _ = capture(t, func() int { return reprocessCmd([]string{"-admin", srv.URL, "2"}) })
	if code != 0 || out != "message 2: reprocessed as message 3 (TRANSFORMED)\n" {
		t.Fatalf("reprocess: %d %q", code, out)
	}
	m, err := store.GetMessage(context.Background(), 1)
	if err != nil || len(m.Events) != 1 || !strings.Contains(m.Events[0].Detail, "junction-cli") {
		t.Fatalf("events %+v %v", m, err)
	}
}
