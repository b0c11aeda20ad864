package main

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/auth"
	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/ui"
)

// With admin.users_file, the CLI logs in with -user and $JUNCTION_PASSWORD.
func TestClientLogin(t *testing.T) {
	dir := t.TempDir()
	cfg := `admin: { listen: "127.0.0.1:0", users_file: users.yaml }
store: { path: junction.db }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: archive, type: file, dir: out }
`
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(cfg), 0o644)
	if _, err := auth.AddUser(filepath.Join(dir, "users.yaml"), "otto", auth.RoleOperator, "otto-secret"); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.LoadUsers(eng.Admin.UsersFile)
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
	srv := httptest.NewServer(ui.New(eng, ui.WithUsers(users)))
	defer func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Stop(ctx)
		store.Close()
	}()
	body := "MSH|^~\\&|A|B|C|D|20240213144932||ADT^A01|L1|P|2.4\rPID|1||123||GREEN^ANN\r"
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

	t.Setenv("JUNCTION_USER", "")
	code, _, errs := capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL}) })
	if code != 1 || !strings.Contains(errs, "log in first") || !strings.Contains(errs, "-user NAME") {
		t.Fatalf("anonymous: %d %q", code, errs)
	}
	t.Setenv("JUNCTION_PASSWORD", "wrong-password")
	code, _, errs = capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL, "-user", "otto"}) })
	if code != 1 || !strings.Contains(errs, "unknown user or wrong password") {
		t.Fatalf("wrong password: %d %q", code, errs)
	}
	t.Setenv("JUNCTION_PASSWORD", "otto-secret")
	code, out, errs := capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL, "-user", "otto"}) })
	if code != 0 || !strings.Contains(out, "L1") {
		t.Fatalf("messages -user: %d %q %q", code, out, errs)
	}
	code, out, errs = capture(t, func() int { return resendCmd([]string{"-admin", srv.URL, "-user", "otto", "1"}) })
	if code != 0 || out != "message 1: queued again for archive\n" {
		t.Fatalf("resend -user: %d %q %q", code, out, errs)
	}
	m, err := store.GetMessage(context.Background(), 1)
	if err != nil || len(m.Events) != 1 || !strings.Contains(m.Events[0].Detail, "by otto (operator)") || !strings.Contains(m.Events[0].Detail, "junction-cli") {
		t.Fatalf("events %+v %v", m.Events, err)
	}

	// An API token (-token or $JUNCTION_TOKEN) instead of a login.
	secret := "jct_clitesttoken"
	if err := store.CreateToken(context.Background(), engine.APIToken{Name: "cli", Role: "operator"}, sha256.Sum256([]byte(secret)), "test"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JUNCTION_PASSWORD", "")
	code, out, errs = capture(t, func() int { return resendCmd([]string{"-admin", srv.URL, "-token", secret, "1"}) })
	if code != 0 || out != "message 1: queued again for archive\n" {
		t.Fatalf("resend -token: %d %q %q", code, out, errs)
	}
	t.Setenv("JUNCTION_TOKEN", secret)
	code, out, errs = capture(t, func() int { return messagesCmd([]string{"-admin", srv.URL}) })
	if code != 0 || !strings.Contains(out, "L1") {
		t.Fatalf("messages $JUNCTION_TOKEN: %d %q %q", code, out, errs)
	}
	m, err = store.GetMessage(context.Background(), 1)
	if err != nil || len(m.Events) != 2 || !strings.Contains(m.Events[1].Detail, "by token:cli (operator)") {
		t.Fatalf("events %+v %v", m.Events, err)
	}
}
