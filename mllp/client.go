package mllp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Client defaults, used where ClientOptions leaves a field zero.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultAckTimeout  = 30 * time.Second
)

// ErrAckTimeout is returned by Send when no answer frame arrived within the ack timeout.
var ErrAckTimeout = errors.New("mllp: no acknowledgement within the ack timeout")

// ClientOptions tunes a Client. Zero fields take the defaults.
type ClientOptions struct {
	// DialTimeout bounds the TCP connect and the TLS handshake (DefaultDialTimeout).
	DialTimeout time.Duration
	// AckTimeout bounds one Send from the start of writing the frame to the end of
	// reading the answer (DefaultAckTimeout).
	AckTimeout time.Duration
	// MaxMessageBytes is the largest answer taken (DefaultMaxMessageBytes).
	MaxMessageBytes int
}

// A Client sends messages over one persistent connection and waits for the answer to
// each. The connection is opened by Dial or by the first Send, and after any error it is
// closed: the next Send opens a new one (backing off between attempts is the caller's).
//
// A Client is for one goroutine at a time: Send, Close and Connected must not run
// concurrently. To stop a Send in progress, cancel its context.
type Client struct {
	addr   string
	tls    *tls.Config
	opts   ClientOptions
	cur    *clientConn
	closed bool
}

// clientConn is one connection with the goroutine that reads its frames. The reader
// hands each frame (or its final error) over results, holding at most one: anything
// there before a frame is written was not asked for (an unsolicited frame, or the peer
// closing an idle connection), and the connection is replaced before sending.
type clientConn struct {
	nc      net.Conn
	results chan result
	quit    chan struct{}
	done    chan struct{}
}

type result struct {
	data []byte
	err  error
}

// NewClient returns a Client for addr ("host:port") that connects on its first Send,
// over TLS when tlsConfig is not nil (its ServerName defaults to the host of addr).
func NewClient(addr string, tlsConfig *tls.Config, opts ClientOptions) *Client {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Client{addr: addr, tls: tlsConfig, opts: opts}
}

// Dial returns a Client connected to addr, or the error of connecting.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config, opts ClientOptions) (*Client, error) {
	c := NewClient(addr, tlsConfig, opts)
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Send writes msg as one frame and returns the message of the answer frame (the ACK,
// uninterpreted). It connects first if there is no connection, or if the peer closed
// it or sent a frame unasked since the last Send. Any error closes the connection.
//
// Errors: ErrEndBlockInMessage (nothing sent, connection kept), ErrAckTimeout, the
// context's error, ErrTruncated or io.ErrUnexpectedEOF when the peer closes before
// answering, ErrTooLarge for an answer over the limit, and net.ErrClosed after Close.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	if c.closed {
		return nil, net.ErrClosed
	}
	if err := checkMessage(msg); err != nil {
		return nil, err
	}
	if c.cur != nil && c.cur.stale() {
		c.drop()
	}
	if c.cur == nil {
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
	}
	ack, err := c.exchange(ctx, msg)
	if err != nil {
		c.drop()
		return nil, fmt.Errorf("mllp: send to %s: %w", c.addr, err)
	}
	return ack, nil
}

// exchange writes one frame on the current connection and waits for one frame back.
func (c *Client) exchange(ctx context.Context, msg []byte) ([]byte, error) {
	cc := c.cur
	timer := time.NewTimer(c.opts.AckTimeout)
	defer timer.Stop()
	deadline := time.Now().Add(c.opts.AckTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cc.nc.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { cc.nc.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := WriteFrame(cc.nc, msg); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	select {
	case res := <-cc.results:
		if res.err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return res.data, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, ErrAckTimeout
	}
}

// Connected reports whether the Client holds a connection that it has not seen end.
func (c *Client) Connected() bool {
	return c.cur != nil && !c.cur.stale()
}

// Close closes the connection. Send then returns net.ErrClosed.
func (c *Client) Close() error {
	c.closed = true
	c.drop()
	return nil
}

func (c *Client) connect(ctx context.Context) error {
	d := &net.Dialer{Timeout: c.opts.DialTimeout}
	var nc net.Conn
	var err error
	if c.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: c.tls}).DialContext(ctx, "tcp", c.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return fmt.Errorf("mllp: connect to %s: %w", c.addr, err)
	}
	cc := &clientConn{nc: nc, results: make(chan result, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go cc.read(c.opts.MaxMessageBytes)
	c.cur = cc
	return nil
}

// drop closes the current connection, if any, and waits for its reader to end.
func (c *Client) drop() {
	if c.cur == nil {
		return
	}
	close(c.cur.quit)
	c.cur.nc.Close()
	<-c.cur.done
	c.cur = nil
}

// read hands over frames until the connection fails or is closed.
func (cc *clientConn) read(maxMessageBytes int) {
	defer close(cc.done)
	r := NewReader(cc.nc, maxMessageBytes)
	for {
		f, err := r.ReadFrame()
		select {
		case cc.results <- result{f.Data, err}:
		case <-cc.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// stale reports whether something arrived while no answer was awaited. What arrived is
// dropped with the connection.
func (cc *clientConn) stale() bool {
	return len(cc.results) > 0
}

func checkMessage(msg []byte) error {
	if bytes.IndexByte(msg, EndBlock) >= 0 {
		return ErrEndBlockInMessage
	}
	return nil
}
