package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
	nc   net.Conn // TLS over raw, or raw
	raw  net.Conn
	addr string // the sender's IP: what MaxConnsPerAddr counts

	// Guarded by Server.mu.
	idle      bool      // waiting for a frame: Shutdown, or a new connection, may close it
	idleSince time.Time // when it last began waiting for a frame (bytes that are no frame do not count)
	closed    bool      // closed to make room for a new connection: its frames go unread
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
	// MaxConns limits the open connections. At the limit, a new connection closes the
	// connection that has waited longest for a frame (one not in the middle of a frame;
	// bytes that start no frame do not count as activity) to take its place, or, when
	// every one is reading or answering a frame, is closed at once. Either is logged.
	// 0: no limit.
	MaxConns int
	// MaxConnsPerAddr limits the open connections from one IP address in the same way:
	// one more from that address closes the address's own longest-idle connection, or
	// is closed. 0: no limit.
	MaxConnsPerAddr int
	// FirstFrameTimeout closes a new connection on which no frame starts for this long
	// (counted after the TLS handshake). 0: IdleTimeout applies, as to later frames.
	FirstFrameTimeout time.Duration
	// IdleTimeout closes a connection on which no frame starts for this long. 0: none;
	// MLLP senders commonly hold a connection open through quiet hours.
	IdleTimeout time.Duration
	// MaxSkippedBytes closes a connection that sends more than this many bytes outside
	// a frame while the server waits for one (logged). 0: DefaultMaxSkippedBytes; less
	// than 0: no limit.
	MaxSkippedBytes int
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
	perAddr   map[string]int // open connections by IP address
	shutting  bool
	drained   chan struct{} // closed once shutting with no connection left
	isDrained bool
}

func (s *Server) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*Conn]struct{}{}
		s.perAddr = map[string]int{}
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
		c := &Conn{nc: nc, raw: nc, addr: hostOf(nc.RemoteAddr()), idle: true, idleSince: time.Now()}
		if s.TLSConfig != nil {
			c.nc = tls.Server(nc, s.TLSConfig)
		}
		if s.add(c) {
			go s.serveConn(c)
		}
	}
}

// add registers a new connection, making room for it at a limit by closing the
// longest-idle connection that limit counts; it closes c instead when shutting down or
// when no such connection is idle.
func (s *Server) add(c *Conn) bool {
	s.mu.Lock()
	shutting := s.shutting
	limit, most, victim := s.makeRoom(c)
	admit := !shutting && (limit == "" || victim != nil)
	if admit {
		if victim != nil {
			victim.closed = true
			s.forget(victim)
		}
		s.conns[c] = struct{}{}
		s.perAddr[c.addr]++
	}
	s.mu.Unlock()
	switch {
	case shutting:
	case victim != nil:
		s.log().Warn("mllp: idle connection closed to make room for a new one", "remote", victim.RemoteAddr().String(),
			"idle", time.Since(victim.idleSince).Round(time.Millisecond), "new", c.RemoteAddr().String(), "limit", limit, "max", most)
		// Closed outside the lock, and without a TLS alert, which could wait on a
		// peer that does not read.
		victim.raw.Close()
	case !admit:
		s.log().Warn("mllp: connection refused: at the connection limit, with every connection reading or answering a frame",
			"remote", c.RemoteAddr().String(), "limit", limit, "max", most)
	}
	if !admit {
		c.raw.Close()
	}
	return admit
}

// makeRoom names the limit a new connection c would go over ("" when none) and its
// value, and the connection to close to admit it: the one that has waited longest for a
// frame among those the limit counts (nil when none is waiting). s.mu is held.
func (s *Server) makeRoom(c *Conn) (limit string, most int, victim *Conn) {
	perAddr := s.MaxConnsPerAddr > 0 && s.perAddr[c.addr] >= s.MaxConnsPerAddr
	switch {
	case perAddr:
		limit, most = "connections per address", s.MaxConnsPerAddr
	case s.MaxConns > 0 && len(s.conns) >= s.MaxConns:
		limit, most = "connections", s.MaxConns
	default:
		return "", 0, nil
	}
	for o := range s.conns {
		if !o.idle || perAddr && o.addr != c.addr {
			continue
		}
		if victim == nil || o.idleSince.Before(victim.idleSince) {
			victim = o
		}
	}
	return limit, most, victim
}

// forget takes c out of the count of open connections (once). s.mu is held.
func (s *Server) forget(c *Conn) {
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perAddr[c.addr]--; s.perAddr[c.addr] <= 0 {
		delete(s.perAddr, c.addr)
	}
}

func (s *Server) remove(c *Conn) {
	c.nc.Close()
	s.mu.Lock()
	s.forget(c)
	s.checkDrained()
	s.mu.Unlock()
}

// setIdle marks c idle, waiting for a frame: since now after a frame, since it was
// accepted before the first (false when shutting down: the connection is to end).
func (s *Server) setIdle(c *Conn, afterFrame bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting || c.closed {
		return false
	}
	c.idle = true
	if afterFrame {
		c.idleSince = time.Now()
	}
	return true
}

// setBusy marks c as reading a frame, which no new connection may interrupt (false when
// one already closed it to take its place).
func (s *Server) setBusy(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.idle = false
	return !c.closed
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
	g := &skipGuard{r: c.nc, max: s.MaxSkippedBytes}
	if g.max == 0 {
		g.max = DefaultMaxSkippedBytes
	}
	r := NewReader(g, s.MaxMessageBytes)
	for first := true; s.setIdle(c, !first); first = false {
		wait, doing := s.IdleTimeout, "waiting for a frame"
		if first {
			wait, doing = firstSet(s.FirstFrameTimeout, s.IdleTimeout), "waiting for the first frame"
		}
		setReadDeadline(c.nc, wait)
		g.waiting, g.read = true, 0
		err := r.Wait()
		g.waiting = false
		if err != nil {
			s.logEnd(log, err, doing)
			return
		}
		if !s.setBusy(c) {
			return
		}
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
	var sk *skippedError
	switch {
	case err == io.EOF || errors.Is(err, net.ErrClosed):
	case errors.As(err, &sk):
		log.Warn("mllp: connection closed: too many bytes outside a frame", "bytes", sk.n, "max_skipped_bytes", sk.max)
	case errors.Is(err, os.ErrDeadlineExceeded) && doing == "waiting for the first frame" && s.FirstFrameTimeout > 0:
		log.Info("mllp: connection closed: no frame since it opened", "first_frame_timeout", s.FirstFrameTimeout)
	case errors.Is(err, os.ErrDeadlineExceeded) && doing != "reading a frame":
		log.Info("mllp: idle connection closed", "idle_timeout", s.IdleTimeout)
	default:
		log.Warn("mllp: connection closed", "while", doing, "err", err)
	}
}

// DefaultMaxSkippedBytes is how many bytes outside a frame a Server takes while it
// waits for one, unless MaxSkippedBytes says otherwise.
const DefaultMaxSkippedBytes = 64 << 10

// skipGuard is what a connection's Reader reads through. While the server waits for a
// frame it counts what it reads: every read but the last of a wait is bytes that start
// no frame (the Reader reads again only once what it holds is all skipped), so once
// they pass max it refuses to read more.
type skipGuard struct {
	r       io.Reader
	max     int  // less than 0: no limit
	waiting bool // the server is waiting for a frame
	read    int  // bytes read in this wait
}

func (g *skipGuard) Read(p []byte) (int, error) {
	if g.waiting && g.max >= 0 && g.read > g.max {
		return 0, &skippedError{n: g.read, max: g.max}
	}
	n, err := g.r.Read(p)
	if g.waiting {
		g.read += n
	}
	return n, err
}

// skippedError ends a connection that sent more than max bytes outside a frame.
type skippedError struct{ n, max int }

func (e *skippedError) Error() string {
	return fmt.Sprintf("mllp: %d bytes outside a frame, more than the limit of %d", e.n, e.max)
}

// hostOf is the IP address of a connection's remote address.
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
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
