// Package engine is Junction's domain and runtime: routes.yaml loading, channels and their
// pipeline, the destination queues and their workers, and the Store interface.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// Engine is a loaded configuration and, once started, the running channels.
type Engine struct {
	File      string
	Dir       string // folder of the config file: relative paths in it resolve from here
	Config    []byte // the file's text
	Admin     AdminConfig
	StorePath string
	Channels  []*Channel

	// Warnings are what Load found risky but allowed (e.g. patient data served without
	// authentication): `junction check` prints them, serve logs them.
	Warnings []ConfigError

	adminLine     int
	afterLoad     []func()
	byName        map[string]*Channel
	listeners     map[string]*Listener
	listenerOrder []*Listener
	services      []*serviceEntry // in the order the config names them
	serviceByKey  map[string]*serviceEntry

	Log     *slog.Logger
	Node    string // this process's identity for queue leases
	store   Store
	started time.Time
	cancel  context.CancelFunc
	workers sync.WaitGroup
	monitor monitor // statistics samples for the admin UI (monitor.go)
}

// Listener is one HTTP listen address shared by every source that names it.
type Listener struct {
	Addr   string
	Line   int    // where it was first named
	Path   string // and under which key, e.g. channels[0].source.listen
	Router chi.Router
	// Values lets connectors keep per-listener state, e.g. $ingest's dispatch table.
	Values map[string]any
	// TLS, when set by a source's tls block, makes the listener serve HTTPS (and, with a
	// client CA, require client certificates); TLSFrom names the block, for conflicts.
	TLS     *tls.Config
	TLSFrom string
	// Limits protect the listener from slow and greedy clients; sources set them.
	Limits     ListenerLimits
	LimitsFrom string
	// MaxBody is the largest body its sources take (sources raise it): a request of
	// unknown length is charged as this much against the memory budget.
	MaxBody int64
	// Refuse, when a source sets it, answers the requests the listener turns away before
	// its routes see them, in the source's protocol; nil: plain text.
	Refuse RefuseFunc
	// Admit, when a source sets it, sees each request before it is charged against the
	// memory budget: it checks what the headers alone can tell (the bearer token) and
	// answers a refusal itself (false), so that only admitted senders hold the budget
	// while their bodies arrive. It may return the request with values for its handler.
	Admit  func(w http.ResponseWriter, r *http.Request) (*http.Request, bool)
	server *http.Server
	bound  net.Listener
	budget *budget
}

func newEngine(file string, data []byte) *Engine {
	return &Engine{
		File:      file,
		Config:    data,
		byName:    map[string]*Channel{},
		listeners: map[string]*Listener{},
		Log:       slog.Default(),
		Node:      newNodeID(),

		serviceByKey: map[string]*serviceEntry{},
	}
}

// ListenerLimits bound what one listener gives its clients.
type ListenerLimits struct {
	ReadHeaderTimeout time.Duration // time to send the request headers
	ReadTimeout       time.Duration // time to send the whole request
	WriteTimeout      time.Duration // time to read the whole answer
	MaxConcurrent     int           // requests served at once; more get 503 at once
	// MaxMemory is the memory budget of the requests in progress, each charged
	// MemoryFactor times its body; 0: the default (see MemoryBudget).
	MaxMemory int64
}

// DefaultLimits are safe for HL7v2 and FHIR traffic from integration engines.
var DefaultLimits = ListenerLimits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, MaxConcurrent: 512}

// Listener returns the shared listener for addr, creating it at first use.
func (e *Engine) Listener(addr string, line int, path string) *Listener {
	if l, ok := e.listeners[addr]; ok {
		return l
	}
	r := chi.NewRouter()
	l := &Listener{Addr: addr, Line: line, Path: path, Router: r, Values: map[string]any{}, Limits: DefaultLimits}
	e.listeners[addr] = l
	e.listenerOrder = append(e.listenerOrder, l)
	return l
}

// Listeners lists the source listeners in the order the config names them.
func (e *Engine) Listeners() []*Listener { return e.listenerOrder }

// serviceEntry is a registered Service and where the configuration names it.
type serviceEntry struct {
	svc     Service
	line    int
	path    string
	started bool
}

// AddService registers a source's service under key (e.g. "mllp 127.0.0.1:2575", so that
// channels naming the same address find it with Service). line and path name it in the
// error when it cannot start. A second registration under a key is ignored.
func (e *Engine) AddService(key string, line int, path string, svc Service) {
	if _, ok := e.serviceByKey[key]; ok {
		return
	}
	s := &serviceEntry{svc: svc, line: line, path: path}
	e.serviceByKey[key] = s
	e.services = append(e.services, s)
}

// Services lists the sources' services in the order the config names them.
func (e *Engine) Services() []Service {
	out := make([]Service, len(e.services))
	for i, s := range e.services {
		out[i] = s.svc
	}
	return out
}

// Service returns the service registered under key, or nil.
func (e *Engine) Service(key string) Service {
	if s, ok := e.serviceByKey[key]; ok {
		return s.svc
	}
	return nil
}

// Channel returns a channel by name.
func (e *Engine) Channel(name string) *Channel { return e.byName[name] }

// Store is the running store (nil before Start).
func (e *Engine) Store() Store { return e.store }

// StartedAt is when Start ran.
func (e *Engine) StartedAt() time.Time { return e.started }

// Start binds every listener, then starts the destination workers with the given store,
// then the sources' services (which bind their own ports), and then serves the listeners.
// Binding first means a port already in use fails the start before anything runs; a
// service that cannot start undoes everything started before it.
func (e *Engine) Start(store Store) error {
	e.store = store
	e.started = time.Now()
	var started []Destination // closed again if the start fails part way
	fail := func(err error) error {
		e.closeListeners()
		for _, d := range started {
			if c, ok := d.(Closer); ok {
				c.Close()
			}
		}
		return err
	}
	for _, ch := range e.Channels {
		for _, d := range ch.Destinations {
			if s, ok := d.Dest.(Starter); ok {
				if err := s.Start(); err != nil {
					return fail(fmt.Errorf("%s:%d: channel %s destination %s: %w", e.File, d.Line, ch.Name, d.Name, err))
				}
				started = append(started, d.Dest)
			}
		}
	}
	for _, l := range e.listenerOrder {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fail(fmt.Errorf("%s:%d: %s: cannot listen on %s: %w", e.File, l.Line, l.Path, l.Addr, err))
		}
		if l.TLS != nil {
			ln = tls.NewListener(ln, l.TLS)
		}
		l.bound = ln
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.startMonitor(ctx)
	for _, ch := range e.Channels {
		if !ch.Enabled {
			continue
		}
		for _, d := range ch.Destinations {
			d.wake = make(chan struct{}, 1)
			d.kick = make(chan struct{}, 1)
			e.workers.Add(1)
			go func() {
				defer e.workers.Done()
				e.runWorker(ctx, ch, d)
			}()
		}
	}
	if err := e.startServices(); err != nil {
		cancel()
		e.cancel = nil
		e.workers.Wait()
		return fail(err)
	}
	for _, l := range e.listenerOrder {
		refuse := l.Refuse
		if refuse == nil {
			refuse = plainRefuse
		}
		l.budget = newBudget(l.Limits.MemoryBudget(l.MaxBody))
		h := admit(limitMemory(l.Router, l.budget, l.MaxBody, refuse, memoryWait), l.Admit)
		l.server = &http.Server{
			Handler:           capConcurrent(h, l.Limits.MaxConcurrent, refuse),
			ReadHeaderTimeout: l.Limits.ReadHeaderTimeout,
			ReadTimeout:       l.Limits.ReadTimeout,
			WriteTimeout:      l.Limits.WriteTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(e.Log.Handler(), slog.LevelWarn),
		}
		go func() {
			if err := l.server.Serve(l.bound); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.Log.Error("listener stopped", "addr", l.Addr, "err", err)
			}
		}()
		e.Log.Info("listening", "addr", l.bound.Addr().String())
	}
	return nil
}

// BoundAddr is the address a listener actually bound (useful with port 0).
func (l *Listener) BoundAddr() string {
	if l.bound == nil {
		return ""
	}
	return l.bound.Addr().String()
}

// startServices starts the sources' services in order; when one fails, it stops those it
// started and returns the error with the configuration's FILE:LINE.
func (e *Engine) startServices() error {
	for _, s := range e.services {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.svc.Start(ctx)
		cancel()
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			e.stopServices(stopCtx)
			cancel()
			return fmt.Errorf("%s:%d: %s: %w", e.File, s.line, s.path, err)
		}
		s.started = true
	}
	return nil
}

// stopServices stops the started services, last started first, each with ctx.
func (e *Engine) stopServices(ctx context.Context) error {
	var first error
	for i := len(e.services) - 1; i >= 0; i-- {
		s := e.services[i]
		if !s.started {
			continue
		}
		s.started = false
		if err := s.svc.Stop(ctx); err != nil && first == nil {
			first = fmt.Errorf("%s:%d: %s: %w", e.File, s.line, s.path, err)
		}
	}
	return first
}

func (e *Engine) closeListeners() {
	for _, l := range e.listenerOrder {
		if l.bound != nil {
			l.bound.Close()
		}
	}
}

// Stop stops taking messages (in-flight requests and the messages the services are
// processing finish and are answered), then stops the destination workers after their
// current send. Queued messages stay in the store.
func (e *Engine) Stop(ctx context.Context) error {
	var first error
	for _, l := range e.listenerOrder {
		if l.server != nil {
			if err := l.server.Shutdown(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	if err := e.stopServices(ctx); err != nil && first == nil {
		first = err
	}
	if e.cancel != nil {
		e.cancel()
	}
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if first == nil {
			first = ctx.Err()
		}
	}
	for _, ch := range e.Channels {
		for _, d := range ch.Destinations {
			if c, ok := d.Dest.(Closer); ok {
				c.Close()
			}
		}
	}
	return first
}

// capConcurrent answers 503 at once when max requests are already being served, so a
// flood cannot pile up goroutines and memory; senders retry 503s.
func capConcurrent(h http.Handler, max int, refuse RefuseFunc) http.Handler {
	if max <= 0 {
		return h
	}
	slots := make(chan struct{}, max)
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
