package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/mllp"
)

const testMessage = "MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01^ADT_A01|MSG-1^X|P|2.4\rPID|1||123^^^NHS^NH\r"

// mllpPeer is a loopback mllp.Server answering every frame with what answer returns for
// the frame's sequence number (1, 2, ...), counting frames and connections.
type mllpPeer struct {
	addr   string
	frames atomic.Int64
	mu     sync.Mutex
	conns  map[string]bool
	bad    atomic.Int64 // frames that were not the message sent
}

func serveMLLP(t *testing.T, answer func(n int64) string) *mllpPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &mllpPeer{addr: ln.Addr().String(), conns: map[string]bool{}}
	srv := &mllp.Server{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: func(_ context.Context, c *mllp.Conn, f mllp.Frame) []byte {
			if string(f.Data) != testMessage {
				p.bad.Add(1)
			}
			p.mu.Lock()
			p.conns[c.RemoteAddr().String()] = true
			p.mu.Unlock()
			return []byte(answer(p.frames.Add(1)))
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *mllpPeer) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func accept(int64) string {
	return "MSH|^~\\&|JUNCTION|RX1|PAS|RX1|20240213144933||ACK^A01|A1|P|2.4\rMSA|AA|MSG-1\r"
}

func TestRunMLLPSendsCountMessagesOverOneConnectionPerWorkerAndCountsAsManyACKs(t *testing.T) {
	p := serveMLLP(t, accept)
	const c, n = 4, 200
	res, err := RunMLLP(context.Background(), MLLPRequest{Addr: p.addr, Message: []byte(testMessage)}, c, time.Minute, Count(n))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Requests != n || res.Errors != 0 || p.frames.Load() != n {
		t.Fatalf("sent %d (errors %d, first %v), the peer got %d frames: want %d of each", res.Requests, res.Errors, res.FirstError, p.frames.Load(), n)
	}
	if p.bad.Load() != 0 {
		t.Errorf("the peer got %d frames that were not the message", p.bad.Load())
	}
	// Workers connect at their first send: a fast one may take the whole count before
	// another has connected, so fewer may be seen; never more than one per worker.
	if got := p.connections(); got < 1 || got > c {
		t.Errorf("the peer saw %d connections, want at most one per worker (%d)", got, c)
	}
	if res.Concurrency != c || res.Duration <= 0 || res.PerSecond <= 0 || len(res.Status) != 0 {
		t.Errorf("bad result header: %+v", res)
	}
	if !(res.P50 > 0 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("bad percentiles: p50=%v p90=%v p99=%v max=%v", res.P50, res.P90, res.P99, res.Max)
	}
}

func TestAnAnswerThatDoesNotAcceptTheMessageCountsAsAnError(t *testing.T) {
	p := serveMLLP(t, func(n int64) string {
		if n%3 == 0 {
			return "MSH|^~\\&|J|R|P|R|1||ACK|A1|P|2.4\rMSA|AE|MSG-1\r"
		}
		return accept(n)
	})
	res, err := RunMLLP(context.Background(), MLLPRequest{Addr: p.addr, Message: []byte(testMessage)}, 2, time.Minute, Count(30))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 30 || res.Errors != 10 {
		t.Errorf("Requests=%d Errors=%d, want 30 and 10", res.Requests, res.Errors)
	}
	if !errors.Is(res.FirstError, ErrCheck) || !strings.Contains(res.FirstError.Error(), `"AE"`) {
		t.Errorf("FirstError = %v, want ErrCheck naming AE", res.FirstError)
	}
}

func TestAnACKForAnotherMessageCountsAsAnError(t *testing.T) {
	p := serveMLLP(t, func(int64) string { return "MSH|^~\\&|J|R|P|R|1||ACK|A1|P|2.4\rMSA|AA|MSG-2\r" })
	res, err := RunMLLP(context.Background(), MLLPRequest{Addr: p.addr, Message: []byte(testMessage)}, 1, time.Minute, Count(5))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 5 || res.Errors != 5 || !errors.Is(res.FirstError, ErrCheck) {
		t.Errorf("Requests=%d Errors=%d FirstError=%v, want 5 check errors", res.Requests, res.Errors, res.FirstError)
	}
}

func TestACheckGivenReplacesTheACKCheck(t *testing.T) {
	p := serveMLLP(t, func(int64) string { return "anything" })
	var seen atomic.Int64
	check := func(ack []byte) error {
		seen.Add(1)
		if string(ack) != "anything" {
			return fmt.Errorf("got %q", ack)
		}
		return nil
	}
	res, err := RunMLLP(context.Background(), MLLPRequest{Addr: p.addr, Message: []byte(testMessage), Check: check}, 2, time.Minute, Count(10))
	if err != nil || res.Requests != 10 || res.Errors != 0 || seen.Load() != 10 {
		t.Errorf("err=%v Requests=%d Errors=%d checks=%d (%v), want 10 requests checked", err, res.Requests, res.Errors, seen.Load(), res.FirstError)
	}
}

func TestNothingListeningGivesOnlyConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res, err := RunMLLP(context.Background(), MLLPRequest{Addr: addr, Message: []byte(testMessage)}, 2, time.Minute, Count(6))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 6 || res.Errors != 6 || res.PerSecond != 0 || res.FirstError == nil {
		t.Errorf("want 6 connection errors, got %+v", res)
	}
}

func TestRunMLLPRefusesBadArguments(t *testing.T) {
	ctx := context.Background()
	msg := []byte(testMessage)
	for _, tc := range []struct {
		req MLLPRequest
		c   int
		d   time.Duration
	}{
		{MLLPRequest{Addr: "127.0.0.1:1", Message: msg}, 0, time.Second},
		{MLLPRequest{Addr: "127.0.0.1:1", Message: msg}, 1, 0},
		{MLLPRequest{Message: msg}, 1, time.Second},
		{MLLPRequest{Addr: "127.0.0.1:1"}, 1, time.Second},
	} {
		if _, err := RunMLLP(ctx, tc.req, tc.c, tc.d); err == nil {
			t.Errorf("RunMLLP(%+v, c=%d, d=%v): want error", tc.req, tc.c, tc.d)
		}
	}
}

func TestCheckACKAcceptsAAOrCAForTheMessageAndNothingElse(t *testing.T) {
	for _, tc := range []struct {
		ack, id string
		ok      bool
	}{
		{"MSH|^~\\&|A\rMSA|AA|MSG-1\r", "MSG-1", true},
		{"MSH|^~\\&|A\rMSA|CA|MSG-1|fine\r", "MSG-1", true},
		{"MSH|^~\\&|A\r\nMSA|AA|MSG-1", "MSG-1", true},
		{"MSH|^~\\&|A\rMSA|AA|MSG-1\r", "", true},
		{"MSH|^~\\&|A\rMSA|AE|MSG-1\r", "MSG-1", false},
		{"MSH|^~\\&|A\rMSA|AR|MSG-1\r", "MSG-1", false},
		{"MSH|^~\\&|A\rMSA|AA|MSG-2\r", "MSG-1", false},
		{"MSH|^~\\&|A\r", "MSG-1", false},
		{"", "", false},
	} {
		if err := CheckACK([]byte(tc.ack), tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckACK(%q, %q) = %v, want ok %v", tc.ack, tc.id, err, tc.ok)
		}
	}
	if got := controlID([]byte(testMessage)); got != "MSG-1" {
		t.Errorf("controlID = %q, want the first component of MSH-10, MSG-1", got)
	}
}

func TestCountStopsAnHTTPRunAfterThatManyRequests(t *testing.T) {
	var n atomic.Int64
	url, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
	}))
	res, err := Run(context.Background(), Request{URL: url, Body: []byte("x")}, 3, time.Minute, Count(50))
	if err != nil || res.Requests != 50 || res.Errors != 0 || n.Load() != 50 {
		t.Errorf("err=%v Requests=%d Errors=%d, server handled %d: want 50", err, res.Requests, res.Errors, n.Load())
	}
}
