package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts a real loopback HTTP server (no httptest) and returns its URL and the number
// of connections it has accepted so far.
func serve(t *testing.T, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := new(atomic.Int64)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/in", conns
}

func TestRunCountsAndStatus(t *testing.T) {
	var n, bad atomic.Int64
	url, conns := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.URL.Path != "/in" || r.Header.Get("X-Test") != "yes" ||
			r.ContentLength != int64(len(body)) {
			bad.Add(1)
		}
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(body) // echo
	}))

	payload := bytes.Repeat([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r"), 30)
	var checked atomic.Int64
	const c = 4
	res, err := Run(context.Background(), Request{
		URL:    url,
		Header: http.Header{"X-Test": {"yes"}},
		Body:   payload,
	}, c, 300*time.Millisecond, CheckBody(func(status int, body []byte) error {
		checked.Add(1)
		if status != 200 || !bytes.Equal(body, payload) {
			return errors.New("echo mismatch")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res, res.Status)

	if bad.Load() != 0 {
		t.Errorf("server saw %d malformed requests", bad.Load())
	}
	if res.Requests == 0 {
		t.Fatal("no requests completed")
	}
	if res.Requests != n.Load() {
		t.Errorf("Requests = %d, server handled %d", res.Requests, n.Load())
	}
	want503 := n.Load() / 5
	if res.Status[503] != want503 || res.Status[200] != n.Load()-want503 || len(res.Status) > 2 {
		t.Errorf("Status = %v, want 200:%d 503:%d", res.Status, n.Load()-want503, want503)
	}
	if res.Errors != want503 {
		t.Errorf("Errors = %d, want %d", res.Errors, want503)
	}
	if want503 > 0 {
		var se StatusError
		if !errors.As(res.FirstError, &se) || se.Code != 503 {
			t.Errorf("FirstError = %v, want StatusError 503", res.FirstError)
		}
	}
	if checked.Load() != res.Status[200] {
		t.Errorf("check called %d times, want %d (2xx only)", checked.Load(), res.Status[200])
	}
	// Normally exactly c connections; the Transport may dial a spare one when a connection
	// is slow to return to its idle pool (e.g. on a loaded machine), so only require reuse.
	if got := conns.Load(); got > c {
		t.Logf("server accepted %d connections for concurrency %d", got, c)
		if res.Requests > 4*c && got > res.Requests/2 {
			t.Errorf("server accepted %d connections for %d requests: keep-alive not working", got, res.Requests)
		}
	}
	if res.Concurrency != c || res.Duration <= 0 || res.PerSecond <= 0 {
		t.Errorf("bad result header: %+v", res)
	}
	if !(res.P50 > 0 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("bad percentiles: p50=%v p90=%v p99=%v max=%v", res.P50, res.P90, res.P99, res.Max)
	}
}

func TestCheckFailuresAreErrors(t *testing.T) {
	var n atomic.Int64
	url, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1)%3 == 0 {
			io.WriteString(w, "MSA|AE|1\r")
			return
		}
		io.WriteString(w, "MSA|AA|1\r")
	}))
	ack := func(status int, body []byte) error {
		if !bytes.Contains(body, []byte("MSA|AA|")) {
			return errors.New("not AA")
		}
		return nil
	}
	// Via the Request field this time, on a GET without body.
	res, err := Run(context.Background(), Request{URL: url, Check: ack}, 2, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n.Load() || res.Status[200] != n.Load() {
		t.Errorf("Requests=%d Status=%v, server handled %d", res.Requests, res.Status, n.Load())
	}
	if res.Errors != n.Load()/3 {
		t.Errorf("Errors = %d, want %d", res.Errors, n.Load()/3)
	}
	if res.Errors > 0 && !errors.Is(res.FirstError, ErrCheck) {
		t.Errorf("FirstError = %v, want ErrCheck", res.FirstError)
	}
}

func TestTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: connection refused
	res, err := Run(context.Background(), Request{URL: "http://" + addr + "/", Body: []byte("x")}, 2, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != res.Requests || len(res.Status) != 0 || res.PerSecond != 0 {
		t.Errorf("want only transport errors, got %+v", res)
	}
	if res.FirstError == nil {
		t.Error("FirstError not set")
	}
}

func TestContextCancelStopsEarly(t *testing.T) {
	url, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(time.Millisecond)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		res, err = Run(ctx, Request{URL: url, Body: []byte("x")}, 2, time.Minute)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop after the context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if res.Errors != 0 {
		t.Errorf("cancellation counted as %d errors (%v)", res.Errors, res.FirstError)
	}
}

func TestBadArguments(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url string
		c   int
		d   time.Duration
	}{
		{"http://127.0.0.1:1/", 0, time.Second},
		{"http://127.0.0.1:1/", 1, 0},
		{"ftp://127.0.0.1:1/", 1, time.Second},
		{"://bad", 1, time.Second},
	} {
		if _, err := Run(ctx, Request{URL: tc.url}, tc.c, tc.d); err == nil {
			t.Errorf("Run(%q, c=%d, d=%v): want error", tc.url, tc.c, tc.d)
		}
	}
}

func TestPercentileAndString(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.5); got != 7 {
		t.Errorf("single sample: %v", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("no samples: %v", got)
	}

	r := Result{Concurrency: 64, PerSecond: 12345.4, P50: 1200 * time.Microsecond, P99: 8 * time.Millisecond}
	if got, want := r.String(), "c=64 12345 msg/s p50=1.2ms p99=8.0ms errors=0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	r = Result{Concurrency: 1, PerSecond: 900, P50: 150 * time.Microsecond, P99: 420 * time.Microsecond, Errors: 3}
	if got := r.String(); !strings.Contains(got, "p50=0.15ms p99=0.42ms errors=3") {
		t.Errorf("String() = %q", got)
	}
}

// With Vary, every request has its own path and body.
func TestVaryGivesEachRequestItsOwnPathAndBody(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path] = string(b)
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	req := Request{Method: "PUT", URL: "http://" + ln.Addr().String() + "/x", Vary: func(worker, n int) (string, []byte) {
		id := fmt.Sprintf("%d-%d", worker, n)
		return "/Bundle/" + id, []byte("body " + id)
	}}
	res, err := Run(context.Background(), req, 4, 200*time.Millisecond)
	if err != nil || res.Errors != 0 {
		t.Fatalf("run: %v %+v", err, res)
	}
	mu.Lock()
	defer mu.Unlock()
	if int64(len(seen)) != res.Requests {
		t.Fatalf("%d distinct paths for %d requests", len(seen), res.Requests)
	}
	for path, body := range seen {
		if "body "+strings.TrimPrefix(path, "/Bundle/") != body {
			t.Fatalf("path %s got body %q", path, body)
		}
	}
}
