package mllp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// peer accepts connections on loopback and serves the i-th with the i-th function (in
// its own goroutine, closing the connection when it returns). It returns the address
// and the count of connections accepted.
func peer(t *testing.T, conns ...func(nc net.Conn, r *Reader)) (string, *atomic.Int32) {
	t.Helper()
	ln := listen(t)
	var accepted atomic.Int32
	go func() {
		for _, serve := range conns {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer nc.Close()
				serve(nc, NewReader(nc, 0))
			}()
		}
	}()
	return ln.Addr().String(), &accepted
}

func answerAll(nc net.Conn, r *Reader) {
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		WriteFrame(nc, append([]byte("ACK "), f.Data...))
	}
}

func answerOnce(nc net.Conn, r *Reader) {
	if f, err := r.ReadFrame(); err == nil {
		WriteFrame(nc, append([]byte("ACK "), f.Data...))
	}
}

func readWithoutAnswering(_ net.Conn, r *Reader) { r.ReadFrame() }

// holdUnanswered reads one frame, tells got, and then waits for the client to close.
func holdUnanswered(got, closed chan struct{}) func(net.Conn, *Reader) {
	return func(_ net.Conn, r *Reader) {
		r.ReadFrame()
		close(got)
		for {
			if _, err := r.ReadFrame(); err != nil {
				close(closed)
				return
			}
		}
	}
}

func send(t *testing.T, c *Client, msg string) string {
	t.Helper()
	ack, err := c.Send(context.Background(), []byte(msg))
	if err != nil {
		t.Fatalf("Send(%q): %v", msg, err)
	}
	return string(ack)
}

func TestMessagesSentGetTheirAnswersOverOneConnection(t *testing.T) {
	var conns atomic.Int32
	addr, _ := serve(t, &Server{Handler: func(ctx context.Context, c *Conn, f Frame) []byte {
		if string(f.Data) == "first" {
			conns.Add(1)
		}
		return echo(ctx, c, f)
	}})
	c, err := Dial(context.Background(), addr, nil, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, msg := range []string{"first", adt, "third"} {
		if got := send(t, c, msg); got != "ACK "+msg {
			t.Fatalf("answer %d: %q", i, got)
		}
	}
	if conns.Load() != 1 || !c.Connected() {
		t.Fatalf("%d connections (connected: %v), want one kept", conns.Load(), c.Connected())
	}
}

func TestAConnectionThePeerClosedWhileIdleIsReplacedBeforeSending(t *testing.T) {
	addr, accepted := peer(t, answerOnce, answerAll)
	c := NewClient(addr, nil, ClientOptions{})
	defer c.Close()
	if got := send(t, c, "one"); got != "ACK one" {
		t.Fatalf("answer %q", got)
	}
	waitUntil(func() bool { return !c.Connected() })
	if got := send(t, c, "two"); got != "ACK two" || accepted.Load() != 2 {
		t.Fatalf("answer %q after %d connections", got, accepted.Load())
	}
}

func TestAFailedSendClosesTheConnectionAndTheNextSendReconnects(t *testing.T) {
	addr, accepted := peer(t, readWithoutAnswering, answerAll)
	c := NewClient(addr, nil, ClientOptions{})
	defer c.Close()
	if ack, err := c.Send(context.Background(), []byte("lost")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Send = %q, %v; want io.ErrUnexpectedEOF", ack, err)
	}
	if c.Connected() {
		t.Fatal("still connected after an error")
	}
	if got := send(t, c, "again"); got != "ACK again" || accepted.Load() != 2 {
		t.Fatalf("answer %q after %d connections", got, accepted.Load())
	}
}

func TestNoAnswerWithinTheAckTimeoutIsErrAckTimeoutAndClosesTheConnection(t *testing.T) {
	got, closed := make(chan struct{}), make(chan struct{})
	addr, _ := peer(t, holdUnanswered(got, closed))
	c := NewClient(addr, nil, ClientOptions{AckTimeout: 20 * time.Millisecond})
	defer c.Close()
	if ack, err := c.Send(context.Background(), []byte("x")); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("Send = %q, %v; want ErrAckTimeout", ack, err)
	}
	<-closed // the peer sees the connection end
}

func TestACancelledContextEndsASend(t *testing.T) {
	got, closed := make(chan struct{}), make(chan struct{})
	addr, _ := peer(t, holdUnanswered(got, closed))
	c := NewClient(addr, nil, ClientOptions{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel()
	}()
	if ack, err := c.Send(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %q, %v; want context.Canceled", ack, err)
	}
	<-closed
}

func TestAContextDeadlineBoundsASend(t *testing.T) {
	got, closed := make(chan struct{}), make(chan struct{})
	addr, _ := peer(t, holdUnanswered(got, closed))
	c := NewClient(addr, nil, ClientOptions{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if ack, err := c.Send(ctx, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %q, %v; want context.DeadlineExceeded", ack, err)
	}
	<-closed
}

func TestAFrameTheClientDidNotAskForMakesItReconnect(t *testing.T) {
	unasked := func(nc net.Conn, r *Reader) {
		WriteFrame(nc, []byte("unasked"))
		answerAll(nc, r)
	}
	addr, accepted := peer(t, unasked, answerAll)
	c, err := Dial(context.Background(), addr, nil, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUntil(func() bool { return !c.Connected() })
	if got := send(t, c, "mine"); got != "ACK mine" || accepted.Load() != 2 {
		t.Fatalf("answer %q after %d connections", got, accepted.Load())
	}
}

func TestAMessageContainingTheEndBlockIsRefusedAndTheConnectionKept(t *testing.T) {
	addr, accepted := peer(t, answerAll)
	c, err := Dial(context.Background(), addr, nil, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(context.Background(), []byte("a\x1cb")); err != ErrEndBlockInMessage {
		t.Fatalf("Send: %v, want ErrEndBlockInMessage", err)
	}
	if got := send(t, c, "ok"); got != "ACK ok" || accepted.Load() != 1 {
		t.Fatalf("answer %q after %d connections", got, accepted.Load())
	}
}

func TestAnAnswerOverTheLimitIsErrTooLarge(t *testing.T) {
	addr, _ := peer(t, answerAll)
	c := NewClient(addr, nil, ClientOptions{MaxMessageBytes: 5})
	defer c.Close()
	if ack, err := c.Send(context.Background(), []byte("long message")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send = %q, %v; want ErrTooLarge", ack, err)
	}
}

func TestSendAfterCloseIsErrClosed(t *testing.T) {
	addr, _ := peer(t, answerAll)
	c := NewClient(addr, nil, ClientOptions{})
	send(t, c, "x")
	c.Close()
	if _, err := c.Send(context.Background(), []byte("y")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send: %v, want net.ErrClosed", err)
	}
}

func TestDialingWhereNothingListensFails(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), addr, nil, ClientOptions{}); err == nil {
		t.Fatal("Dial succeeded")
	}
}

func BenchmarkClientServerRoundTrip(b *testing.B) {
	s := &Server{Handler: echo}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	c, err := Dial(context.Background(), ln.Addr().String(), nil, ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := []byte(adt)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := c.Send(context.Background(), msg); err != nil {
			b.Fatal(fmt.Errorf("Send: %w", err))
		}
	}
}
