package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAServerAnswersEachFrameOfAConnectionInOrder(t *testing.T) {
	addr, _ := serve(t, &Server{Handler: echo})
	nc := dialRaw(t, addr)
	r := NewReader(nc, 0)
	if _, err := nc.Write([]byte(frame("one") + frame("two") + "\n" + frame("three"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ACK one", "ACK two", "ACK three"} {
		f, err := r.ReadFrame()
		if err != nil || string(f.Data) != want {
			t.Fatalf("answer %q, %v; want %q", f.Data, err, want)
		}
	}
}

func TestTheHandlerSeesSkippedBytesAndEmptyFramesAndMayAnswerNothing(t *testing.T) {
	var skipped atomic.Int64
	addr, _ := serve(t, &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		skipped.Add(int64(f.Skipped))
		if len(f.Data) == 0 {
			return nil
		}
		return echo(ctx, c, f)
	}})
	nc := dialRaw(t, addr)
	r := NewReader(nc, 0)
	nc.Write([]byte("xyz" + frame("")))
	if got := exchange(t, nc, r, "after"); got != "ACK after" || skipped.Load() != 3 {
		t.Fatalf("answer %q with %d skipped; want the empty frame unanswered and 3 skipped", got, skipped.Load())
	}
}

func TestAStuckSenderDoesNotHoldUpOtherConnections(t *testing.T) {
	addr, _ := serve(t, &Server{Handler: echo})
	silent := dialRaw(t, addr)
	defer silent.Close()
	stuck := dialRaw(t, addr)
	stuck.Write([]byte("\x0bMSH|^~\\&|half a message"))
	nc := dialRaw(t, addr)
	if got := exchange(t, nc, NewReader(nc, 0), "hello"); got != "ACK hello" {
		t.Fatalf("answer %q", got)
	}
}

func TestAnIdleConnectionIsClosedAfterTheIdleTimeout(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: echo, IdleTimeout: 20 * time.Millisecond})
	nc := dialRaw(t, addr)
	if got := exchange(t, nc, NewReader(nc, 0), "one"); got != "ACK one" {
		t.Fatalf("answer %q", got)
	}
	waitClosed(t, nc)
	if !strings.Contains(logs.String(), "idle connection closed") {
		t.Errorf("log:\n%s", logs)
	}
}

// The read timeout runs from a frame's start block to its end: a sender trickling bytes
// does not renew it (were it renewed per read, this test would never end).
func TestAFrameNotWholeWithinTheReadTimeoutClosesTheConnection(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: echo, ReadTimeout: 50 * time.Millisecond})
	nc := dialRaw(t, addr)
	nc.Write([]byte("\x0bMSH"))
	go func() {
		for {
			if _, err := nc.Write([]byte("|")); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitClosed(t, nc)
	if !strings.Contains(logs.String(), "i/o timeout") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestAnOversizeFrameIsAnsweredByTooLargeAndTheConnectionGoesOn(t *testing.T) {
	addr, _ := serve(t, &Server{
		Handler:         echo,
		MaxMessageBytes: 20,
		TooLarge: func(_ context.Context, _ *Conn, err *TooLargeError) []byte {
			return []byte("AR " + string(err.Head[:8]))
		},
	})
	nc := dialRaw(t, addr)
	r := NewReader(nc, 0)
	if got := exchange(t, nc, r, "MSH|^~\\&|this is more than twenty bytes"); got != "AR MSH|^~\\&" {
		t.Fatalf("answer %q", got)
	}
	if got := exchange(t, nc, r, "small"); got != "ACK small" {
		t.Fatalf("answer %q", got)
	}
}

func TestAnOversizeFrameWithoutATooLargeHandlerClosesTheConnection(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: echo, MaxMessageBytes: 4})
	nc := dialRaw(t, addr)
	WriteFrame(nc, []byte("too long"))
	waitClosed(t, nc)
	if !strings.Contains(logs.String(), "larger than the limit") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestANewConnectionAtTheLimitClosesTheLongestIdleOneToTakeItsPlace(t *testing.T) {
	s := &Server{Handler: echo, MaxConns: 2}
	addr, logs := serve(t, s)
	oldest := dialRaw(t, addr)
	if got := exchange(t, oldest, NewReader(oldest, 0), "oldest"); got != "ACK oldest" {
		t.Fatalf("answer %q", got)
	}
	waitUntil(func() bool { return s.idleCount() == 1 })
	recent := dialRaw(t, addr)
	recentR := NewReader(recent, 0)
	if got := exchange(t, recent, recentR, "recent"); got != "ACK recent" {
		t.Fatalf("answer %q", got)
	}
	waitUntil(func() bool { return s.idleCount() == 2 })
	newest := dialRaw(t, addr)
	if got := exchange(t, newest, NewReader(newest, 0), "newest"); got != "ACK newest" {
		t.Fatalf("the new connection: answer %q", got)
	}
	waitClosed(t, oldest)
	if got := exchange(t, recent, recentR, "still here"); got != "ACK still here" {
		t.Fatalf("the more recently active connection: answer %q", got)
	}
	if s.connCount() != 2 || !strings.Contains(logs.String(), "idle connection closed to make room for a new one") {
		t.Errorf("%d connections; log:\n%s", s.connCount(), logs)
	}
}

func TestANewConnectionIsRefusedWhenEveryConnectionIsInTheMiddleOfAFrame(t *testing.T) {
	s := &Server{Handler: echo, MaxConns: 1}
	addr, logs := serve(t, s)
	busy := dialRaw(t, addr)
	busy.Write([]byte("\x0bhalf a fr"))
	waitUntil(func() bool { return s.connCount() == 1 && s.idleCount() == 0 })
	refused := dialRaw(t, addr)
	waitClosed(t, refused)
	if !strings.Contains(logs.String(), "connection refused: at the connection limit") {
		t.Errorf("log:\n%s", logs)
	}
	busy.Write([]byte("ame\x1c\x0d"))
	if f, err := NewReader(busy, 0).ReadFrame(); err != nil || string(f.Data) != "ACK half a frame" {
		t.Fatalf("the frame in progress got %q, %v", f.Data, err)
	}
}

// Bytes that start no frame are not activity: a connection trickling them is as idle as
// a silent one, and gives way to a sender.
func TestAConnectionTricklingBytesOutsideFramesGivesWayToANewOne(t *testing.T) {
	s := &Server{Handler: echo, MaxConns: 1}
	addr, _ := serve(t, s)
	trickler := dialRaw(t, addr)
	go func() {
		for {
			if _, err := trickler.Write([]byte("junk\n")); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitUntil(func() bool { return s.connCount() == 1 })
	nc := dialRaw(t, addr)
	if got := exchange(t, nc, NewReader(nc, 0), "sender"); got != "ACK sender" {
		t.Fatalf("answer %q", got)
	}
	waitClosed(t, trickler)
}

// Over MaxConnsPerAddr, an address's new connection takes the place of its own
// longest-idle one, even when another address's connection has been idle longer.
func TestOneAddressOverItsLimitClosesItsOwnIdleConnectionsNotAnothers(t *testing.T) {
	s := &Server{Handler: echo, MaxConns: 10, MaxConnsPerAddr: 2}
	addr, logs := serve(t, s)
	sender := dialRaw(t, addr)
	senderR := NewReader(sender, 0)
	if got := exchange(t, sender, senderR, "first"); got != "ACK first" {
		t.Fatalf("answer %q", got)
	}
	var others []net.Conn
	for i := range 3 {
		others = append(others, dialFrom(t, "127.0.0.2", addr))
		waitUntil(func() bool { return s.connCount() == 1+min(i+1, 2) && s.addrCount("127.0.0.2") == min(i+1, 2) })
	}
	waitClosed(t, others[0])
	if got := exchange(t, sender, senderR, "second"); got != "ACK second" {
		t.Fatalf("the other address's connection: answer %q", got)
	}
	if !strings.Contains(logs.String(), "limit=\"connections per address\"") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestANewConnectionWithoutAFrameIsClosedAfterTheFirstFrameTimeout(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: echo, FirstFrameTimeout: 20 * time.Millisecond})
	silent := dialRaw(t, addr)
	trickler := dialRaw(t, addr)
	go func() {
		for {
			if _, err := trickler.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitClosed(t, silent)
	waitClosed(t, trickler)
	if strings.Count(logs.String(), "no frame since it opened") != 2 {
		t.Errorf("log:\n%s", logs)
	}
}

func TestAConnectionSendingTooManyBytesOutsideAFrameIsClosed(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: echo, MaxSkippedBytes: 100})
	nc := dialRaw(t, addr)
	r := NewReader(nc, 0)
	nc.Write([]byte(strings.Repeat("x", 90)))
	if got := exchange(t, nc, r, "under the limit"); got != "ACK under the limit" {
		t.Fatalf("answer %q", got)
	}
	nc.Write([]byte(strings.Repeat("x", 101)))
	waitClosed(t, nc)
	if !strings.Contains(logs.String(), "too many bytes outside a frame") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestShutdownClosesIdleConnectionsAndWaitsForAFrameBeingAnswered(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		close(started)
		<-release
		return echo(ctx, c, f)
	}}
	addr, _ := serve(t, s)
	idle := dialRaw(t, addr)
	busy := dialRaw(t, addr)
	WriteFrame(busy, []byte("slow"))
	<-started
	waitUntil(func() bool { return s.connCount() == 2 })

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	waitClosed(t, idle)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a handler was running", err)
	default:
	}
	if nc, err := net.Dial("tcp", addr); err == nil {
		nc.Close()
		t.Fatal("Shutdown left the listener open")
	}
	close(release)
	f, err := NewReader(busy, 0).ReadFrame()
	if err != nil || string(f.Data) != "ACK slow" {
		t.Fatalf("the frame in flight got %q, %v", f.Data, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitClosed(t, busy)
}

func TestShutdownOutOfTimeClosesEverythingAndCancelsHandlers(t *testing.T) {
	started := make(chan struct{})
	s := &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		close(started)
		<-ctx.Done()
		return nil
	}}
	addr, _ := serve(t, s)
	nc := dialRaw(t, addr)
	WriteFrame(nc, []byte("never answered"))
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v, want context.Canceled", err)
	}
	waitClosed(t, nc)
	waitUntil(func() bool { return s.connCount() == 0 })
}

func TestServeAfterShutdownIsErrServerClosed(t *testing.T) {
	s := &Server{Handler: echo}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(listen(t)); err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}

func TestAHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	addr, logs := serve(t, &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		if string(f.Data) == "boom" {
			panic("boom")
		}
		return echo(ctx, c, f)
	}})
	bad := dialRaw(t, addr)
	WriteFrame(bad, []byte("boom"))
	waitClosed(t, bad)
	nc := dialRaw(t, addr)
	if got := exchange(t, nc, NewReader(nc, 0), "fine"); got != "ACK fine" {
		t.Fatalf("answer %q", got)
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestTLSWithARequiredClientCertificate(t *testing.T) {
	ca, otherCA := newCA(t, "Hospital CA"), newCA(t, "Other CA")
	s := &Server{
		Handler: func(_ context.Context, c *Conn, f Frame) []byte {
			st := c.TLS()
			return []byte("ACK from " + st.PeerCertificates[0].Subject.CommonName)
		},
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{ca.issue(t, "mllp.hospital", true)},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.pool(),
			MinVersion:   tls.VersionTLS12,
		},
	}
	addr, logs := serve(t, s)
	ctx := context.Background()

	c, err := Dial(ctx, addr, &tls.Config{
		RootCAs: ca.pool(), Certificates: []tls.Certificate{ca.issue(t, "lab-system", false)},
	}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ack, err := c.Send(ctx, []byte(adt)); err != nil || string(ack) != "ACK from lab-system" {
		t.Fatalf("Send = %q, %v", ack, err)
	}

	for name, cfg := range map[string]*tls.Config{
		"no client certificate":            {RootCAs: ca.pool()},
		"a certificate of another CA":      {RootCAs: ca.pool(), Certificates: []tls.Certificate{otherCA.issue(t, "intruder", false)}},
		"a server the client cannot trust": {RootCAs: otherCA.pool()},
	} {
		c := NewClient(addr, cfg, ClientOptions{})
		if ack, err := c.Send(ctx, []byte(adt)); err == nil {
			t.Errorf("%s: Send = %q, want an error", name, ack)
		}
		c.Close()
	}
	waitUntil(func() bool { return strings.Count(logs.String(), "TLS handshake failed") == 3 })
}

func TestAPlainConnectionHasNoTLSState(t *testing.T) {
	var plain atomic.Bool
	addr, _ := serve(t, &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		plain.Store(c.TLS() == nil && c.RemoteAddr() != nil && c.LocalAddr() != nil)
		return echo(ctx, c, f)
	}})
	nc := dialRaw(t, addr)
	exchange(t, nc, NewReader(nc, 0), "x")
	if !plain.Load() {
		t.Fatal("Conn.TLS() is not nil on plain TCP")
	}
}

// idleCount is the number of connections waiting for a frame.
func (s *Server) idleCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.idle {
			n++
		}
	}
	return n
}

// addrCount is the number of connections the server holds from ip.
func (s *Server) addrCount(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perAddr[ip]
}

// dialFrom opens a plain connection from the loopback address ip (127.0.0.2: another
// sender), closed at the end of the test.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
