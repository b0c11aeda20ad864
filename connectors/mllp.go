package connectors

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"junction/auth"
	"junction/engine"
	"junction/hl7"
	"junction/mllp"
	"junction/transforms"
)

// mllpFields are the mllp source's keys: its Build reads them by these specs.
var mllpFields = []engine.FieldSpec{
	{Name: "listen", Type: "address", Required: true, Description: "host:port to listen on; channels naming the same address share one listener (and must give it the same max_message_bytes, max_messages_per_frame, max_memory, max_connections, max_connections_per_address, timeouts and tls)", Example: "127.0.0.1:2575"},
	{Name: "match.message_type", Type: "list", Description: "MSH-9 values this channel takes: a code (ADT) or a code and event (ORU^R01)", Example: "[ADT, ORU^R01]"},
	{Name: "match.sending_application", Type: "list", Description: "MSH-3 values (its first component) this channel takes"},
	{Name: "match.sending_facility", Type: "list", Description: "MSH-4 values (first component) this channel takes"},
	{Name: "match.receiving_application", Type: "list", Description: "MSH-5 values (first component) this channel takes"},
	{Name: "match.receiving_facility", Type: "list", Description: "MSH-6 values (first component) this channel takes", Example: "LAB"},
	{Name: "ack.application", Type: "text", DefaultNote: "the message's MSH-5", Description: "MSH-3 of our ACKs; by default the application the message was sent to"},
	{Name: "ack.facility", Type: "text", DefaultNote: "the message's MSH-6", Description: "MSH-4 of our ACKs; by default the facility the message was sent to"},
	{Name: "ack.version", Type: "text", Default: "2.4", Description: "MSH-12 of an ACK when the message's own version cannot be read"},
	{Name: "max_message_bytes", Type: "size", Default: "10MB", Description: "largest message (frame) taken; a larger one is answered AR"},
	{Name: "max_messages_per_frame", Type: "number", Default: "10000", Description: "most messages taken in one frame (a batch); a frame holding more is answered AR naming the limit and none of it is processed"},
	{Name: "max_memory", Type: "size", DefaultNote: "512MB; a quarter of GOMEMLIMIT when that is set, and never less than 16 × max_message_bytes", Description: "memory the frames being processed may take, each charged 16 × its size once read; a frame finding no room within a second has its messages answered AE (busy: send again) and none stored"},
	{Name: "max_connections", Type: "number", Default: "64", Description: "connections open at once; one more closes the connection that has waited longest for a frame (bytes outside frames are not activity) to take its place, or is closed when every one is reading or answering a frame (logged). Memory for frames being read is at most max_connections × max_message_bytes"},
	{Name: "max_connections_per_address", Type: "number", Default: "16", Description: "connections open at once from one IP address; one more closes that address's longest-idle connection, or is closed (logged)"},
	{Name: "timeouts.first_frame", Type: "duration", Default: "5m", DefaultNote: "timeouts.idle when shorter", Description: "close a new connection on which no frame starts for this long (0: timeouts.idle applies)"},
	{Name: "timeouts.idle", Type: "duration", Default: "0", DefaultNote: "none", Description: "close a connection on which no further frame starts for this long; senders commonly keep one open through quiet hours. Bytes outside frames are not activity, and more than 64 KB of them between frames close the connection"},
	{Name: "timeouts.read", Type: "duration", Default: "1m", Description: "time a sender has from a frame's start to its end (and for the TLS handshake)"},
	{Name: "timeouts.write", Type: "duration", Default: "1m", Description: "time a sender has to read our answer"},
	{Name: "tls.cert", Type: "path", Required: true, Description: "serve MLLP over TLS with this certificate (PEM) …", Example: "tls/server.pem"},
	{Name: "tls.key", Type: "path", Required: true, Description: "… and its key; ${file:…} and ${ENV} work here"},
	{Name: "tls.client_ca", Type: "path", Description: "require client certificates signed by these CAs (mutual TLS): MLLP's only way to know its senders", Example: "tls/clients.pem"},
	{Name: "auth", Type: "none", Description: "auth: none says a listener without tls.client_ca is open on purpose (junction check warns either way)", Example: "none"},
}

func init() {
	engine.RegisterSource(engine.SourceSpec{
		Type:    "mllp",
		Summary: "HL7v2 over MLLP (TCP, or TLS): each frame's messages are processed as $ingest processes them and answered with an ACK (a batch of ACKs for a batch) once stored. Channels naming the same listen address share one listener; each message goes to the first channel whose match holds, else to the one channel without a match, else it is answered AR.",
		Fields:  mllpFields,
		Build:   buildMLLP,
	})
}

// mllpSettings are what channels sharing an MLLP listener must agree on.
type mllpSettings struct {
	maxBytes, maxMessages         int
	maxMemory                     int64 // 0: the default (engine.MemoryBudget)
	maxConns, maxPerAddr          int
	firstFrame, idle, read, write time.Duration
	tls                           *tls.Config
	clientCA                      bool
	tlsFiles                      string // cert|key|client_ca, to compare blocks
	line                          int    // of the first channel naming the listener
	channel                       string
}

func (s mllpSettings) same(o mllpSettings) bool {
	return s.maxBytes == o.maxBytes && s.maxMessages == o.maxMessages && s.maxMemory == o.maxMemory &&
		s.maxConns == o.maxConns && s.maxPerAddr == o.maxPerAddr && s.firstFrame == o.firstFrame &&
		s.idle == o.idle && s.read == o.read && s.write == o.write && s.tlsFiles == o.tlsFiles
}

// sameButCerts tells whether o differs from s at most in its certificate and key.
func (s mllpSettings) sameButCerts(o mllpSettings) bool {
	a, b := s, o
	a.tlsFiles, b.tlsFiles = "", ""
	return a.same(b) && sameClientAuth(s.tls, o.tls)
}

// budget is the listener's memory budget, in bytes.
func (s mllpSettings) budget() int64 {
	return engine.MemoryBudget(s.maxMemory, int64(s.maxBytes))
}

// readMLLPSettings reads what a source says of its listener.
func readMLLPSettings(n *engine.Node, e *engine.Engine, ch *engine.Channel) mllpSettings {
	set := mllpSettings{line: n.Line(), channel: ch.Name}
	set.maxBytes = int(min(n.Bytes("max_message_bytes"), 1<<30))
	set.maxMessages = n.Num("max_messages_per_frame", 1)
	set.maxMemory = n.Bytes("max_memory")
	if need := engine.MemoryFactor * int64(set.maxBytes); set.maxMemory > 0 && need > set.maxMemory {
		n.ErrorAt(n.Raw("max_memory"), n.Path+".max_memory", "%s cannot hold one frame of max_message_bytes %s (each frame is charged %d × its size: %s): raise max_memory or lower max_message_bytes",
			humanSize(set.maxMemory), humanSize(int64(set.maxBytes)), engine.MemoryFactor, humanSize(need))
	}
	set.maxConns = n.Num("max_connections", 1)
	set.maxPerAddr = n.Num("max_connections_per_address", 1)
	t := n.BlockOrEmpty("timeouts")
	set.idle, set.firstFrame = t.Dur("idle"), t.Dur("first_frame")
	if set.idle > 0 && !t.Has("first_frame") {
		set.firstFrame = min(set.firstFrame, set.idle)
	}
	set.read, set.write = t.Dur("read"), t.Dur("write")
	t.CheckUnknown()
	mllpTLS(n, e, &set)
	return set
}

// mllpKind is the engine's name of the MLLP listeners' services.
const mllpKind = "MLLP"

// mllpRoute is one channel's claim on messages arriving on an MLLP listener.
type mllpRoute struct {
	channel *engine.Channel
	ack     ackConfig
	match   *mllpMatch // nil: takes what no other channel of the listener matches
	line    int
}

func buildMLLP(n *engine.Node, ch *engine.Channel, e *engine.Engine) {
	n = n.WithSpec(mllpFields)
	listen := n.Address("listen")
	set := readMLLPSettings(n, e, ch)
	r := &mllpRoute{channel: ch, line: n.Line(), ack: readACKConfig(n)}
	r.match = readMatch(n)
	if y := n.Raw("auth"); y != nil && !authNone(n) {
		n.ErrorAt(y, n.Path+".auth", "an MLLP source takes no bearer tokens: the only value is none; authenticate senders with tls.client_ca (mutual TLS)")
	} else if y != nil && set.clientCA {
		n.ErrorAt(y, n.Path+".auth", "auth: none says the listener is open, but tls.client_ca requires client certificates: remove one")
	}
	ch.DataTypes = []string{transforms.HL7v2}
	ch.SourceInfo = "mllp " + listen
	if r.match != nil {
		ch.SourceInfo += " " + r.match.String()
	}
	if listen == "" || !ch.Enabled {
		return
	}
	warnOpenMLLP(n, e, set.clientCA)
	l, _ := e.Service(mllpKind, listen).(*mllpListener)
	if l == nil {
		l = &mllpListener{addr: listen, eng: e, settings: set}
		e.AddService(mllpKind, listen, n.Raw("listen").Line, n.Path+".listen", l)
	} else if !l.settings.same(set) {
		n.Errorf("MLLP listener %s already has other settings (channel %s, line %d): channels sharing an MLLP listener share its max_message_bytes, max_messages_per_frame, max_memory, max_connections, max_connections_per_address, timeouts and tls", listen, l.settings.channel, l.settings.line)
	}
	l.addRoute(n, r)
}

// mllpTLS reads the source's tls block into set.
func mllpTLS(n *engine.Node, e *engine.Engine, set *mllpSettings) {
	t := n.Block("tls")
	if t == nil {
		return
	}
	cert, key, ca := readTLSFiles(t, e)
	set.tlsFiles = cert + "|" + key + "|" + ca
	set.clientCA = ca != ""
	if cert == "" || key == "" {
		return
	}
	cfg, err := auth.ServerTLSConfig(cert, key, ca)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	set.tls = cfg
}

// warnOpenMLLP warns (junction check prints it, serve logs it) about an MLLP source that
// takes messages from anyone who can reach it.
func warnOpenMLLP(n *engine.Node, e *engine.Engine, clientCA bool) {
	switch {
	case clientCA:
	case authNone(n):
		e.Warn(n, n.Raw("auth"), n.Path+".auth", "auth: none: anyone who can reach this MLLP listener may send (MLLP carries no tokens; tls.client_ca, mutual TLS, is how it knows its senders)")
	default:
		e.Warn(n, nil, n.Path, "no tls.client_ca: anyone who can reach this MLLP listener may send (MLLP carries no tokens: require client certificates with tls.client_ca, or write auth: none to say this is meant)")
	}
}

// mllpListener is one MLLP listen address with the channels that share it: an
// engine.Service, bound at engine.Start.
type mllpListener struct {
	addr     string
	eng      *engine.Engine
	settings mllpSettings
	routes   []*mllpRoute // with a match, in the order of the file
	catchAll *mllpRoute
	first    *mllpRoute // answers what reaches no channel

	log    *slog.Logger
	ln     *connTracker
	budget *engine.Budget // charged by the frames being processed
	server *mllp.Server
	served chan error
	// live is the listener whose channels the server's frames go to: l, until the
	// listener of a reloaded configuration takes the server over (TakeOver).
	live *atomic.Pointer[mllpListener]
}

// Prepare binds the listen address (a reload binds its new listeners before it changes
// anything); Start serves it.
func (l *mllpListener) Prepare(ctx context.Context) error {
	if l.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", l.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", l.addr, err)
	}
	l.ln = &connTracker{Listener: ln, conns: map[string]net.Conn{}}
	return nil
}

// Start binds the listen address (unless Prepare did) and serves it.
func (l *mllpListener) Start(ctx context.Context) error {
	if err := l.Prepare(ctx); err != nil {
		return err
	}
	l.log = l.eng.Log
	ln := l.ln.Listener
	s := l.settings
	l.budget = engine.NewBudget(s.budget())
	live := new(atomic.Pointer[mllpListener])
	var tlsCfg *tls.Config
	if s.tls != nil {
		// Read per connection, so a reload can change certificates (TakeOver).
		tlsCfg = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return live.Load().settings.tls, nil
		}}
	}
	live.Store(l)
	l.live = live
	l.server = &mllp.Server{
		Handler: func(ctx context.Context, c *mllp.Conn, f mllp.Frame) []byte {
			return live.Load().handle(ctx, c, f)
		},
		TooLarge: func(ctx context.Context, c *mllp.Conn, tl *mllp.TooLargeError) []byte {
			return live.Load().tooLarge(ctx, c, tl)
		},
		TLSConfig:         tlsCfg,
		MaxMessageBytes:   s.maxBytes,
		MaxConns:          s.maxConns,
		MaxConnsPerAddr:   s.maxPerAddr,
		FirstFrameTimeout: s.firstFrame,
		IdleTimeout:       s.idle,
		ReadTimeout:       s.read,
		WriteTimeout:      s.write,
		Log:               l.log,
	}
	l.served = make(chan error, 1)
	go func(srv *mllp.Server) {
		err := srv.Serve(l.ln)
		if !errors.Is(err, mllp.ErrServerClosed) {
			l.log.Error("MLLP listener stopped", "addr", l.addr, "err", err)
		}
		l.served <- err
	}(l.server)
	l.log.Info("listening (MLLP)", "addr", ln.Addr().String(), "max_memory", humanSize(s.budget()))
	return nil
}

// TakeOver makes l's channels take, from the next frame on, what the running listener old
// of the configuration a reload replaces receives: its socket and open connections stay.
// It cannot when their settings differ (then the engine stops old and starts l).
// New certificates apply from the next connection; a change of the client certificates
// required is one of the settings that need the listener restarted.
func (l *mllpListener) TakeOver(old engine.Service) bool {
	o, ok := old.(*mllpListener)
	if !ok || o.server == nil || !o.settings.sameButCerts(l.settings) {
		return false
	}
	l.log = l.eng.Log
	l.ln, l.budget, l.server, l.served, l.live = o.ln, o.budget, o.server, o.served, o.live
	l.live.Store(l)
	o.server = nil // l stops it
	return true
}

// Stop stops accepting, closes idle connections and waits for the frames being processed
// to be answered (cut off when ctx ends).
func (l *mllpListener) Stop(ctx context.Context) error {
	if l.server == nil {
		if l.ln != nil && l.live == nil { // only prepared
			err := l.ln.Close()
			l.ln = nil
			return err
		}
		return nil
	}
	err := l.server.Shutdown(ctx)
	<-l.served
	l.server = nil
	return err
}

// Memory reports the listener's memory budget (all zero before Start).
func (l *mllpListener) Memory() engine.MemoryStats {
	if l.budget == nil {
		return engine.MemoryStats{}
	}
	return l.budget.Stats()
}

// BoundAddr is the address the listener bound ("" before Start): useful with port 0.
func (l *mllpListener) BoundAddr() string {
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// inMessage is one message of a frame (or of a file): its text in UTF-8, the character
// set it came in (the one to answer in) and its MSH.
type inMessage struct {
	raw      []byte
	text     []byte
	cs       hl7.Charset
	warnings []string
	h        mshHeader
	hasMSH   bool // h was read: the message starts with an MSH and its delimiters
}

// splitHL7 splits body (an MLLP frame, a file) into its messages (hl7.SplitBatch) and
// reads each in the character set its MSH-18 names (hl7.DecodeCharset), with its MSH:
// how the MLLP and file sources read what they hand their channels. The error is
// SplitBatch's: body holds no HL7v2 at all.
func splitHL7(body []byte) (*hl7.Batch, []inMessage, error) {
	batch, err := hl7.SplitBatch(body)
	if err != nil {
		return nil, nil, err
	}
	msgs := make([]inMessage, len(batch.Messages))
	for i, raw := range batch.Messages {
		if len(batch.Messages) > 1 {
			raw = bytes.Clone(raw) // the store may keep it: not the whole body with it
		}
		m := &msgs[i]
		m.raw = raw
		m.text, m.cs, m.warnings = hl7.DecodeCharset(raw)
		m.h, m.hasMSH = readMSH(m.text)
	}
	return batch, msgs, nil
}

// inbound is the message as its channel gets it: its UTF-8 text to parse, the bytes as
// received to store as its raw content (Wire), and a copy of the source's meta with the
// character set it came in (charset, and charset-warning when its label was wrong).
func (m *inMessage) inbound(meta map[string]string, received time.Time) *engine.Inbound {
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["charset"] = m.cs.String()
	if len(m.warnings) > 0 {
		meta["charset-warning"] = strings.Join(m.warnings, "; ")
	}
	return &engine.Inbound{DataType: transforms.HL7v2, Body: m.text, Wire: m.raw, Meta: meta, ReceivedAt: received}
}

// connMeta is what a message's metadata says of the connection it came on.
func connMeta(c *mllp.Conn) map[string]string {
	m := map[string]string{"remote-addr": c.RemoteAddr().String()}
	if st := c.TLS(); st != nil && len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
		m["client-subject"] = st.VerifiedChains[0][0].Subject.String()
	}
	return m
}

// drop logs why a connection is closed without an answer, and closes it: the frame holds
// nothing an ACK could refer to.
func (l *mllpListener) drop(c *mllp.Conn, log *slog.Logger, reason string, args ...any) {
	log.Warn("mllp: connection closed: "+reason, args...)
	l.ln.close(c.RemoteAddr().String())
}

// snippetOf is the start of b, quoted, for a log line.
func snippetOf(b []byte) string {
	if len(b) > 60 {
		return fmt.Sprintf("%q…", b[:60])
	}
	return fmt.Sprintf("%q", b)
}

// connTracker is the listener the MLLP server accepts from, keeping each connection by
// its remote address so that a handler can close the connection its frame came on.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]net.Conn
}

func (t *connTracker) Accept() (net.Conn, error) {
	nc, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	key := nc.RemoteAddr().String()
	tc := &trackedConn{Conn: nc, release: func() {
		t.mu.Lock()
		if t.conns[key] != nil && t.conns[key].(*trackedConn).Conn == nc {
			delete(t.conns, key)
		}
		t.mu.Unlock()
	}}
	t.mu.Lock()
	t.conns[key] = tc
	t.mu.Unlock()
	return tc, nil
}

func (t *connTracker) close(remote string) {
	t.mu.Lock()
	nc := t.conns[remote]
	t.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

type trackedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
