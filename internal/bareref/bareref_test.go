package bareref

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGroupCommitStoresEveryBody(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "ref.db")
	url, stop, err := Start(dbPath, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	const n, workers = 400, 16
	bodies := make([][]byte, n)
	for i := range bodies {
		// Distinct, binary-ish bodies of varying size (including NUL and high bytes).
		b := []byte(fmt.Sprintf("MSH|^~\\&|SND|FAC|RCV|FAC|20240101||ADT^A01|%06d|P|2.5\r\x00\xff", i))
		bodies[i] = append(b, bytes.Repeat([]byte{byte(i)}, i*7)...)
	}

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
	}
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, err := client.Post(url+"in", "application/hl7-v2", bytes.NewReader(bodies[i]))
				if err != nil {
					errs <- err
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(got) != "OK\n" {
					errs <- fmt.Errorf("body %d: %d %q", i, resp.StatusCode, got)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A GET is refused and stores nothing.
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	client.CloseIdleConnections()

	stopped = true
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := stop(); err != nil { // idempotent
		t.Fatalf("second stop: %v", err)
	}

	db, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	rows, err := db.Query("SELECT id, received_at, body FROM messages ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	var lastID int64
	now := time.Now().UnixNano()
	for rows.Next() {
		var id, at int64
		var body []byte
		if err := rows.Scan(&id, &at, &body); err != nil {
			t.Fatal(err)
		}
		if id <= lastID {
			t.Errorf("ids not increasing: %d after %d", id, lastID)
		}
		lastID = id
		if at <= 0 || at > now {
			t.Errorf("row %d: received_at %d out of range", id, at)
		}
		got = append(got, string(body))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d rows, want %d", len(got), n)
	}
	want := make([]string, n)
	for i, b := range bodies {
		want[i] = string(b)
	}
	sort.Strings(got)
	sort.Strings(want)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored bodies differ from posted ones (first difference at sorted index %d)", i)
		}
	}
}

func TestStartErrors(t *testing.T) {
	if _, _, err := Start(filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), "127.0.0.1:0"); err == nil {
		t.Error("want error for a database in a missing directory")
	}
	if _, _, err := Start(filepath.Join(t.TempDir(), "x.db"), "127.0.0.1:-1"); err == nil {
		t.Error("want error for a bad listen address")
	}
}

func TestStopAfterStopRefusesNothingPending(t *testing.T) {
	url, stop, err := Start(filepath.Join(t.TempDir(), "x.db"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "text/plain", strings.NewReader("one"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(url, "text/plain", strings.NewReader("two")); err == nil {
		t.Error("server still answering after stop")
	}
}
