package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/auth"
	_ "junction/connectors"
	"junction/engine"
	"junction/engine/store/sqlite"
)

// A full Junction for API and browser tests: a real engine with an ingest source on
// loopback, a real SQLite store, a file destination and an HTTP destination posting to a
// receiver on loopback that the test can take down and bring back.

const harnessRoutes = `store:
  path: junction.db
channels:
  - name: adt
    description: ADT feed for tests
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out }
      - name: downstream
        type: http
        url: {{URL}}
        retry: { attempts: 2, backoff: 50ms, max_backoff: 100ms }
`

// receiver records what it gets; while down it answers 503.
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  []string
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if rc.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, string(b))
		rc.mu.Unlock()
		w.Write([]byte("OK"))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// received returns the bodies received that contain s.
func (rc *receiver) received(s string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, b := range rc.got {
		if strings.Contains(b, s) {
			out = append(out, b)
		}
	}
	return out
}

type harness struct {
	t     testing.TB
	eng   *engine.Engine
	store *sqlite.Store
	base  string // admin URL
	rc    *receiver
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessIn(t, t.TempDir(), "")
}

// newHarnessIn runs the harness with its routes.yaml in dir, with head put before it
// (e.g. an admin section).
func newHarnessIn(t testing.TB, dir, head string) *harness {
	t.Helper()
	rc := newReceiver(t)
	h := newHarnessWith(t, dir, head+strings.ReplaceAll(harnessRoutes, "{{URL}}", rc.srv.URL+"/in"))
	h.rc = rc
	return h
}

// newHarnessWith runs a Junction on routes (a routes.yaml written to dir).
func newHarnessWith(t testing.TB, dir, routes string) *harness {
	t.Helper()
	h := &harness{t: t}
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(routes), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	eng.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.store, err = sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(h.store); err != nil {
		t.Fatal(err)
	}
	var opts []Option
	if eng.Admin.UsersFile != "" {
		users, err := auth.LoadUsers(eng.Admin.UsersFile)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithUsersFile(eng.Admin.UsersFile, users))
	}
	srv := httptest.NewServer(New(eng, opts...))
	h.base = srv.URL
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		h.store.Close()
	})
	return h
}

// hl7 makes an ADT message.
func hl7(typ, control, family, extra string) string {
	return "MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||" + typ + "|" + control + "|P|2.4\rEVN|A01|20240213144932\r" +
		"PID|1||943476" + control + "^^^NHS^NH||" + family + "^JOHN||19800101|M\rPV1|1|E\r" + extra
}

// post ingests a message and returns its id.
func (h *harness) post(body string) int64 {
	h.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+h.eng.BoundAddr("HTTP")+"/$ingest", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("source-domain", "emergency-care")
	req.Header.Set("organisation-code", "r0d")
	req.Header.Set("data-type", "Hl7v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		h.t.Fatalf("ingest: %d %s", resp.StatusCode, b)
	}
	// The ACK's OperationOutcome says "message N accepted".
	var id int64
	if i := strings.Index(string(b), "message "); i >= 0 {
		fmt.Sscan(string(b[i+len("message "):]), &id)
	}
	if id == 0 {
		msgs := h.messages("limit=1")
		if len(msgs) == 0 {
			h.t.Fatalf("ingest: no id in %q", b)
		}
		id = msgs[0].ID
	}
	return id
}

// call makes an API request; body nil means no body. It fails the test unless the
// status is want, and decodes the answer into out (when not nil).
func (h *harness) call(method, path string, body any, want int, out any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	if method != "GET" {
		req.Header.Set("X-Requested-By", "test")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (h *harness) messages(query string) []engine.MessageSummary {
	h.t.Helper()
	var page struct{ Messages []engine.MessageSummary }
	h.call("GET", "/api/messages?"+query, nil, 200, &page)
	return page.Messages
}

func (h *harness) message(id int64) engine.MessageDetail {
	h.t.Helper()
	var m engine.MessageDetail
	h.call("GET", fmt.Sprintf("/api/messages/%d", id), nil, 200, &m)
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last state: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus waits for a message's destination to reach a status.
func (h *harness) waitStatus(id int64, dest string, want engine.Status) engine.MessageDetail {
	h.t.Helper()
	var m engine.MessageDetail
	waitFor(h.t, fmt.Sprintf("message %d %s to be %s", id, dest, want), func() (bool, string) {
		m = h.message(id)
		for _, d := range m.Destinations {
			if d.Name == dest {
				return d.Status == want, fmt.Sprintf("%s %+v", m.Status, m.Destinations)
			}
		}
		return false, fmt.Sprintf("%+v", m.Destinations)
	})
	return m
}

// waitSettled waits until no delivery is queued, so the receiver can go down without
// catching a message of an earlier step in flight.
func (h *harness) waitSettled() {
	h.t.Helper()
	waitFor(h.t, "every queue to be empty", func() (bool, string) {
		q := h.messages("destination_status=QUEUED")
		return len(q) == 0, fmt.Sprintf("%d queued", len(q))
	})
}

// waitIndexed waits until the search index covers every message so far.
func (h *harness) waitIndexed() {
	h.t.Helper()
	waitFor(h.t, "the search index", func() (bool, string) {
		st, err := h.store.SearchStatus(context.Background())
		return err == nil && st.IndexedThrough == st.LatestID, fmt.Sprintf("%+v %v", st, err)
	})
}
