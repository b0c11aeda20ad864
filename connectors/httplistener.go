package connectors

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
)

// httpKind is the engine's name of the HTTP listeners' services.
const httpKind = "HTTP"

// httpListener is one HTTP listen address shared by every source (and FHIR store) that
// names it: an engine Service. Sources attach to it while the configuration loads
// (httpSource); Start binds and serves it, Stop shuts it down.
type httpListener struct {
	addr string
	line int    // where it was first named
	path string // and under which key, e.g. channels[0].source.listen
	eng  *engine.Engine
	log  *slog.Logger // the engine's, as Start finds it

	router chi.Router
	// What its sources serve: the $ingest table, the fhir-bundle endpoints and the FHIR
	// stores by base path, the token verifiers of its sources (reads check them too).
	ingest    *ingestTable
	bundles   map[string]*bundleEndpoint
	stores    map[string]*fhirStoreDestination
	verifiers []*auth.Verifier

	// tls, when a source's tls block sets it, makes the listener serve HTTPS (and, with a
	// client CA, require client certificates); tlsFrom names the block, for conflicts.
	tls     *tls.Config
	tlsFrom string
	// limits protect the listener from slow and greedy clients; sources set them.
	limits     httpLimits
	limitsFrom string
	// maxBody is the largest body its sources take (sources raise it): a request of
	// unknown length is charged as this much against the memory budget.
	maxBody int64
	// refusals answer, by request path, the requests the listener turns away before its
	// routes see them, in the protocol of the source at that path (see refuseOverloaded).
	refusals map[string]refuseFunc
	// admit sees each request before it is charged against the memory budget: it checks
	// what the headers alone can tell (the bearer token) and answers a refusal itself
	// (false), so that only admitted senders hold the budget while their bodies arrive.
	// It may return the request with values for its handler (see addAdmit).
	admit func(w http.ResponseWriter, r *http.Request) (*http.Request, bool)

	server *http.Server
	bound  net.Listener
	budget *engine.Budget
	// live is what the started server serves with, which the listener of a reloaded
	// configuration takes over (TakeOver) with the server and its socket.
	live *httpLive
}

// httpLive is the handler and TLS settings a listener's server serves with: swapped as
// a whole when a reload's listener takes the server over, so requests in progress finish
// with the handler they started with and the next ones get the new one.
type httpLive struct {
	handler atomic.Pointer[http.Handler]
	tls     atomic.Pointer[tls.Config]
	// What the requests in progress hold, kept across a takeover when the limits are
	// the same, so that the requests of both configurations share the limits.
	budget *engine.Budget
	slots  chan struct{}
}

func (h *httpLive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*h.handler.Load()).ServeHTTP(w, r)
}

// serve makes l's routes (with its limits and admission) what h serves.
func (h *httpLive) serve(l *httpListener) {
	refuse := l.refuseOverloaded
	if size := engine.MemoryBudget(l.limits.maxMemory, l.maxBody); h.budget == nil || h.budget.Capacity() != size {
		h.budget = engine.NewBudget(size)
	}
	if h.slots == nil || cap(h.slots) != l.limits.maxConcurrent {
		h.slots = make(chan struct{}, max(l.limits.maxConcurrent, 0))
	}
	l.budget = h.budget
	in := admitFirst(limitMemory(l.router, l.budget, l.maxBody, refuse, engine.MemoryWait), l.admit)
	handler := observeHTTP(l, capConcurrent(in, h.slots, refuse)) // observeHTTP: metrics.go
	if l.tls != nil {
		h.tls.Store(l.tls)
	}
	h.handler.Store(&handler)
}

// httpLimits bound what one listener gives its clients.
type httpLimits struct {
	readHeaderTimeout time.Duration // time to send the request headers
	readTimeout       time.Duration // time to send the whole request
	writeTimeout      time.Duration // time to read the whole answer
	maxConcurrent     int           // requests served at once; more get 503 at once
	// maxMemory is the memory budget of the requests in progress, each charged
	// engine.MemoryFactor times its body; 0: the default (engine.MemoryBudget).
	maxMemory int64
}

// defaultHTTPLimits are safe for HL7v2 and FHIR traffic from integration engines.
var defaultHTTPLimits = httpLimits{readHeaderTimeout: 10 * time.Second, readTimeout: time.Minute, writeTimeout: time.Minute, maxConcurrent: 512}

// httpListenerFor returns the engine's HTTP listener for addr, registering it at first
// use; line and path name it in errors (a port in use, an address clashing with another).
func httpListenerFor(e *engine.Engine, addr string, line int, path string) *httpListener {
	if l, ok := e.Service(httpKind, addr).(*httpListener); ok {
		return l
	}
	l := &httpListener{addr: addr, line: line, path: path, eng: e, router: chi.NewRouter(), limits: defaultHTTPLimits,
		bundles: map[string]*bundleEndpoint{}, stores: map[string]*fhirStoreDestination{}, refusals: map[string]refuseFunc{}}
	e.AddService(httpKind, addr, line, path, l)
	return l
}

// httpSource attaches a source to the HTTP listener at its listen address: its tls and
// limits blocks (which the listener's sources share) and its token verifier (nil: it
// checks none). The source then mounts its routes on the returned listener.
func httpSource(n *engine.Node, e *engine.Engine, listen string, v *auth.Verifier) *httpListener {
	l := httpListenerFor(e, listen, n.Raw("listen").Line, n.Path+".listen")
	sourceTLS(n, e, l)
	sourceLimits(n, l)
	if v != nil {
		l.verifiers = append(l.verifiers, v)
	}
	return l
}

// Prepare binds the listen address (a reload binds its new listeners before it changes
// anything); Start serves it.
func (l *httpListener) Prepare(context.Context) error {
	if l.bound != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", l.addr, err)
	}
	l.bound = ln
	return nil
}

// Start binds the listen address (unless Prepare did) and serves it in the background.
func (l *httpListener) Start(ctx context.Context) error {
	l.log = l.eng.Log
	if err := l.Prepare(ctx); err != nil {
		return err
	}
	ln := l.bound
	live := &httpLive{}
	if l.tls != nil {
		// The TLS settings are read per connection, so a reload can change certificates.
		ln = tls.NewListener(ln, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return live.tls.Load(), nil
		}})
	}
	l.bound, l.live = ln, live
	live.serve(l)
	srv := &http.Server{
		Handler:           live,
		ReadHeaderTimeout: l.limits.readHeaderTimeout,
		ReadTimeout:       l.limits.readTimeout,
		WriteTimeout:      l.limits.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelWarn),
	}
	l.server = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("listener stopped", "addr", l.addr, "err", err)
		}
	}()
	l.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// TakeOver makes l serve, from the next request on, on the running server of the
// listener old of the configuration a reload replaces, keeping its socket and its open
// connections; new certificates apply from the next connection. It cannot when the
// timeouts differ, when one serves TLS and the other not, or when which client
// certificates are required changed (connections open under the old rule must not go
// on): then the engine stops old and starts l.
func (l *httpListener) TakeOver(old engine.Service) bool {
	o, ok := old.(*httpListener)
	if !ok || o.server == nil || !sameClientAuth(o.tls, l.tls) || o.limits.readHeaderTimeout != l.limits.readHeaderTimeout ||
		o.limits.readTimeout != l.limits.readTimeout || o.limits.writeTimeout != l.limits.writeTimeout {
		return false
	}
	l.log = l.eng.Log
	l.server, l.bound, l.live = o.server, o.bound, o.live
	l.live.serve(l)
	o.server, o.live, o.bound = nil, nil, nil // l stops it
	return true
}

// sameClientAuth tells whether two TLS settings (nil: plain TCP) both serve TLS or both
// not, and require the same client certificates.
func sameClientAuth(a, b *tls.Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ClientAuth != b.ClientAuth || (a.ClientCAs == nil) != (b.ClientCAs == nil) {
		return false
	}
	return a.ClientCAs == nil || a.ClientCAs.Equal(b.ClientCAs)
}

// Stop stops taking requests and waits for those in progress to be answered (until ctx
// ends); a listener only prepared closes its socket.
func (l *httpListener) Stop(ctx context.Context) error {
	if l.server == nil {
		if l.bound != nil && l.live == nil {
			return l.bound.Close()
		}
		return nil
	}
	return l.server.Shutdown(ctx)
}

// BoundAddr is the address the listener bound ("" before Start): useful with port 0.
func (l *httpListener) BoundAddr() string {
	if l.bound == nil {
		return ""
	}
	return l.bound.Addr().String()
}

// Memory reports the listener's memory budget.
func (l *httpListener) Memory() engine.MemoryStats {
	if l.budget == nil {
		return engine.MemoryStats{}
	}
	return l.budget.Stats()
}

// refuseFunc answers a request that a listener turns away before its routes see it: 503
// (too many requests at once, or no room in the memory budget; Retry-After is set) or
// 413 (larger than the whole budget).
type refuseFunc func(w http.ResponseWriter, r *http.Request, status int, reason string)

// refuseOverloaded answers a request turned away: in the protocol of the source at its
// path (l.refusals), else with an OperationOutcome.
func (l *httpListener) refuseOverloaded(w http.ResponseWriter, req *http.Request, status int, reason string) {
	if f := l.refusals[req.URL.Path]; f != nil {
		f(w, req, status, reason)
		return
	}
	code := fhir.CodeTransient
	if status == http.StatusRequestEntityTooLarge {
		code = fhir.CodeTooLong
	}
	writeOutcome(w, status, fhir.Issue{Severity: fhir.SeverityError, Code: code, Diagnostics: reason})
}

// capConcurrent answers 503 at once when cap(slots) requests are already being served
// (no cap when 0), so a flood cannot pile up goroutines and memory; senders retry 503s.
func capConcurrent(h http.Handler, slots chan struct{}, refuse refuseFunc) http.Handler {
	max := cap(slots)
	if max <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("too many concurrent requests on this listener (limit %d): send again shortly", max))
		}
	})
}

// charge is what a request costs: engine.MemoryFactor times its body, counted as
// maxBody when the sender did not say its length (chunked) and never above maxBody (the
// routes read no more than that before answering 413). A request without a body costs
// nothing.
func charge(r *http.Request, maxBody int64) int64 {
	if maxBody <= 0 {
		maxBody = engine.DefaultMaxBody
	}
	size := r.ContentLength
	if size == 0 || r.Body == nil || r.Body == http.NoBody {
		return 0
	}
	if size < 0 || size > maxBody {
		size = maxBody
	}
	return engine.MemoryFactor * size
}

// limitMemory serves a request once its charge fits in b, and gives the charge back when
// the answer is written. A request that finds no room within wait gets 503 with
// Retry-After; one whose charge exceeds the whole budget, 413: it could never be served.
func limitMemory(h http.Handler, b *engine.Budget, maxBody int64, refuse refuseFunc, wait time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := charge(r, maxBody)
		switch {
		case n == 0:
			h.ServeHTTP(w, r)
			return
		case n > b.Capacity():
			b.Refuse()
			refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body (%s) is too large for this listener's memory budget of %s (each request is charged %d times its body): it can never be taken",
				humanSize(n/engine.MemoryFactor), humanSize(b.Capacity()), engine.MemoryFactor))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		ok := b.Acquire(ctx, n)
		cancel()
		if !ok {
			w.Header().Set("Retry-After", "1")
			refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("this listener's memory budget of %s is taken by the requests in progress: send again shortly", humanSize(b.Capacity())))
			return
		}
		defer b.Release(n)
		h.ServeHTTP(w, r)
	})
}

// admitFirst runs a listener's admit before h (h alone without one).
func admitFirst(h http.Handler, admit func(http.ResponseWriter, *http.Request) (*http.Request, bool)) http.Handler {
	if admit == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := admit(w, r); ok {
			h.ServeHTTP(w, r)
		}
	})
}

// humanSize writes a byte count as people read it, exactly where a unit divides it:
// 10 MB, 1040 KB, 15.6 KB, 900 bytes.
func humanSize(n int64) string {
	units := [...]struct {
		unit string
		size int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}}
	for _, u := range units {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	for _, u := range units {
		if n >= u.size {
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
