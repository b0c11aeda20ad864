package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("mllp: server closed")

// A Handler answers one frame: the bytes it returns are written back as one frame (nil:
// nothing is written, and the connection waits for the next frame). Handlers of different
// connections run concurrently; those of one connection run one after another, in the
// order of its frames. The context ends when the server is closed.
type Handler func(ctx context.Context, c *Conn, f Frame) []byte

// A Conn is the connection a frame came on, for the handler to identify the sender.
type Conn struct {
	nc   net.Conn
	idle bool // waiting for a frame: Shutdown may close it (guarded by Server.mu)
}

// RemoteAddr is the sender's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is the address the sender connected to.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// TLS returns the state of a TLS connection (its PeerCertificates hold a verified client
// certificate), or nil for plain TCP.
func (c *Conn) TLS() *tls.ConnectionState {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// A Server reads frames from the connections of its listeners, one goroutine per
// connection, and writes back what its Handler answers. Set its fields before Serve and
// leave them.
type Server struct {
	Handler Handler // required
	// TooLarge answers a frame over MaxMessageBytes (typically an AR built from the
	// head's control id), after which the connection goes on. Nil: the connection is
	// closed.
	TooLarge func(ctx context.Context, c *Conn, err *TooLargeError) []byte
	// TLSConfig, when set, makes every accepted connection TLS (set ClientAuth to
	// tls.RequireAndVerifyClientCert and ClientCAs to require client certificates).
	TLSConfig *tls.Config
	// MaxMessageBytes limits a message (DefaultMaxMessageBytes when 0).
	MaxMessageBytes int
	// MaxConns limits the open connections; one more is accepted and closed at once,
	// with a log line. 0: no limit.
	MaxConns int
	// IdleTimeout closes a connection on which no frame starts for this long. 0: none;
	// MLLP senders commonly hold a connection open through quiet hours.
	IdleTimeout time.Duration
	// ReadTimeout bounds the time from a frame's start block to its end (and the TLS
	// handshake). 0: none.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer. 0: none.
	WriteTimeout time.Duration
	// Log receives the connections' failures (slog.Default() when nil).
	Log *slog.Logger

	once      sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	shutting  bool
	drained   chan struct{} // closed once shutting with no connection left
	isDrained bool
}

func (s *Server) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*Conn]struct{}{}
		s.drained = make(chan struct{})
	})
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve accepts connections on ln until Shutdown or Close (then it returns
// ErrServerClosed) or until ln fails for good. Several listeners may be served at once.
func (s *Server) Serve(ln net.Listener) error {
	if s.Handler == nil {
		return errors.New("mllp: Server.Handler is nil")
	}
	s.init()
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("mllp: accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if s.TLSConfig != nil {
			nc = tls.Server(nc, s.TLSConfig)
		}
		c := &Conn{nc: nc, idle: true}
		if s.add(c) {
			go s.serveConn(c)
		}
	}
}

// add registers a new connection, or closes it when shutting down or at the limit.
func (s *Server) add(c *Conn) bool {
	s.mu.Lock()
	shutting, full := s.shutting, s.MaxConns > 0 && len(s.conns) >= s.MaxConns
	if !shutting && !full {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	if full && !shutting {
		s.log().Warn("mllp: connection refused: at the connection limit",
			"remote", c.RemoteAddr().String(), "max_conns", s.MaxConns)
	}
	if shutting || full {
		c.nc.Close()
		return false
	}
	return true
}

func (s *Server) remove(c *Conn) {
	c.nc.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.checkDrained()
	s.mu.Unlock()
}

// setIdle marks c idle (false when shutting down: the connection is to end) or busy.
func (s *Server) setIdle(c *Conn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idle && s.shutting {
		return false
	}
	c.idle = idle
	return true
}

func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

// checkDrained closes drained once shutting down with no connection left (s.mu held).
func (s *Server) checkDrained() {
	if s.shutting && len(s.conns) == 0 && !s.isDrained {
		s.isDrained = true
		close(s.drained)
	}
}

// Shutdown stops accepting, closes the connections waiting for a frame, and waits for
// the others to finish the frame they are reading or answering (then they close). When
// ctx ends first it closes everything, as Close, and returns ctx's error without
// waiting for the handlers still running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop(false)
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops accepting, closes every connection at once and cancels the handlers'
// context.
func (s *Server) Close() error {
	s.stop(true)
	s.cancel()
	return nil
}

// stop marks the server shutting down and closes its listeners and its idle
// connections, or all of them. Closing happens outside the lock: closing a TLS
// connection writes an alert, which may wait on a peer that does not read.
func (s *Server) stop(all bool) {
	s.init()
	var closers []io.Closer
	s.mu.Lock()
	s.shutting = true
	for ln := range s.listeners {
		closers = append(closers, ln)
	}
	for c := range s.conns {
		if all || c.idle {
			closers = append(closers, c.nc)
		}
	}
	s.checkDrained()
	s.mu.Unlock()
	for _, c := range closers {
		c.Close()
	}
}

// serveConn reads frames from c and writes the answers until c ends.
func (s *Server) serveConn(c *Conn) {
	log := s.log().With("remote", c.RemoteAddr().String())
	defer s.remove(c)
	defer func() {
		if p := recover(); p != nil {
			log.Error("mllp: handler panicked; connection closed", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		setReadDeadline(c.nc, firstSet(s.ReadTimeout, s.IdleTimeout))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			log.Warn("mllp: TLS handshake failed", "err", err)
			return
		}
	}
	r := NewReader(c.nc, s.MaxMessageBytes)
	for s.setIdle(c, true) {
		setReadDeadline(c.nc, s.IdleTimeout)
		if err := r.Wait(); err != nil {
			s.logEnd(log, err, "waiting for a frame")
			return
		}
		s.setIdle(c, false)
		setReadDeadline(c.nc, s.ReadTimeout)
		f, err := r.ReadFrame()
		answer, ok := s.answer(log, c, f, err)
		if !ok {
			return
		}
		if answer == nil {
			continue
		}
		if s.WriteTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		}
		if err := WriteFrame(c.nc, answer); err != nil {
			log.Warn("mllp: writing the answer failed; connection closed", "err", err)
			return
		}
	}
}

// answer runs the handler for what ReadFrame returned; false: close the connection.
func (s *Server) answer(log *slog.Logger, c *Conn, f Frame, err error) ([]byte, bool) {
	if err == nil {
		return s.Handler(s.ctx, c, f), true
	}
	var tl *TooLargeError
	if errors.As(err, &tl) && s.TooLarge != nil {
		log.Warn("mllp: message over the size limit", "size", tl.Size, "max", tl.Max)
		return s.TooLarge(s.ctx, c, tl), true
	}
	s.logEnd(log, err, "reading a frame")
	return nil, false
}

// logEnd logs why a connection ends, unless the peer simply closed it between frames or
// the server closed it.
func (s *Server) logEnd(log *slog.Logger, err error, doing string) {
	switch {
	case err == io.EOF || errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded) && doing == "waiting for a frame":
		log.Info("mllp: idle connection closed", "idle_timeout", s.IdleTimeout)
	default:
		log.Warn("mllp: connection closed", "while", doing, "err", err)
	}
}

func setReadDeadline(nc net.Conn, d time.Duration) {
	if d > 0 {
		nc.SetReadDeadline(time.Now().Add(d))
	} else {
		nc.SetReadDeadline(time.Time{})
	}
}

func firstSet(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}
