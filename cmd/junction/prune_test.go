package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

const pruneRoutes = `store: { path: data/junction.db }
retention: { content: 30d, messages: 90d }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations: [{ name: epr, type: file, dir: out }]
  - name: keep
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    retention: { content: forever, messages: forever }
    destinations: [{ name: epr, type: file, dir: out }]
`

// seedPrune stores, for each channel, 3 messages 100 days old, 2 of 40 days and 1 of a
// day, all sent, and one 100 days old still queued; it returns the ids by channel.
func seedPrune(t *testing.T, path string) map[string][]int64 {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ids := map[string][]int64{}
	var last int64
	for _, ch := range []string{"adt", "keep"} {
		for i, age := range []int{101, 100, 100, 100, 40, 40, 1} {
			id, err := s.Accept(ctx, &engine.NewMessage{Channel: ch, Status: engine.StatusTransformed, DataType: "Hl7v2",
				ReceivedAt: time.Now().Add(-time.Duration(age) * 24 * time.Hour), ControlID: fmt.Sprint(i),
				Raw: []byte(fmt.Sprintf("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|%d|P|2.4\rPID|1||1||Prunable^%s\r", i, ch)), Destinations: []string{"epr"}})
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 { // the first stays queued
				if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1}}); err != nil {
					t.Fatal(err)
				}
			}
			ids[ch] = append(ids[ch], id)
			last = id
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.WaitIndexed(wctx, last); err != nil {
		t.Fatal(err)
	}
	return ids
}

// row finds a channel's line in prune's table: its counts.
func row(t *testing.T, out, channel string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + channel + `\s+.*?\s+(\d+)\s+(\d+)\s+(\d+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line for %s in:\n%s", channel, out)
	}
	return strings.Join(m[1:], " ")
}

func TestPruneDryRunPrintsWhatWouldGoAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(config, []byte(pruneRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", "junction.db")
	code, out, _ := capture(t, func() int { return pruneCmd([]string{"-config", config, "-dry-run"}) })
	if code != 0 || !strings.Contains(out, "no store yet") {
		t.Fatalf("without a store: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dry run created the store: %v", err)
	}
	ids := seedPrune(t, path)
	sum := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(len(b), string(b[len(b)/2:len(b)/2+4096]))
	}
	before := sum()

	code, out, errOut := capture(t, func() int { return pruneCmd([]string{"-config", config, "-dry-run"}) })
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	// adt: 3 sent messages past 90 days go, 2 of 40 days lose their content, the queued
	// one is kept; keep keeps everything.
	if got := row(t, out, "adt"); got != "2 3 1" {
		t.Errorf("adt: content, messages, kept = %s, want 2 3 1:\n%s", got, out)
	}
	if got := row(t, out, "keep"); got != "0 0 0" {
		t.Errorf("keep: %s, want 0 0 0:\n%s", got, out)
	}
	if !strings.Contains(out, "dry run, nothing changed") {
		t.Errorf("the output does not say it is a dry run:\n%s", out)
	}
	if sum() != before {
		t.Fatal("the dry run changed the store file")
	}

	code, out, errOut = capture(t, func() int { return pruneCmd([]string{"-config", config}) })
	if code != 0 || row(t, out, "adt") != "2 3 1" {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.GetMessage(ctx, ids["adt"][1]); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("a 100-day-old adt message is still there: %v", err)
	}
	if m, err := s.GetMessage(ctx, ids["adt"][0]); err != nil || m.ContentRemoved {
		t.Errorf("the queued adt message went or lost content: %v", err)
	}
	if m, err := s.GetMessage(ctx, ids["adt"][4]); err != nil || !m.ContentRemoved {
		t.Errorf("a 40-day-old adt message kept its content: %v", err)
	}
	if m, err := s.GetMessage(ctx, ids["keep"][1]); err != nil || m.ContentRemoved {
		t.Errorf("keep lost a message: %v", err)
	}
}

// junction prune writes beside a process serving from the same store: the server's
// Accepts all succeed while the command prunes, and the command prunes what it should.
func TestPruneRunsBesideAServingStore(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(config, []byte(pruneRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", "junction.db")
	ids := seedPrune(t, path)
	serving, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer serving.Close()
	stop := make(chan struct{})
	errs := make(chan error, 1)
	accepted := 0
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := serving.Accept(context.Background(), &engine.NewMessage{Channel: "adt", Status: engine.StatusTransformed,
				DataType: "Hl7v2", Raw: []byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|N|P|2.4\r"), Destinations: []string{"epr"}})
			if err != nil {
				errs <- err
				return
			}
			accepted++
		}
	}()
	code, out, errOut := capture(t, func() int { return pruneCmd([]string{"-config", config}) })
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("the serving store refused a message while junction prune ran: %v", err)
	}
	if code != 0 || row(t, out, "adt") != "2 3 1" {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if accepted == 0 {
		t.Fatal("nothing was accepted while junction prune ran")
	}
	if _, err := serving.GetMessage(context.Background(), ids["adt"][1]); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the serving store still sees a pruned message: %v", err)
	}
}
