// Package engine is Junction's domain and runtime: routes.yaml loading, channels and their
// pipeline, the destination queues and their workers, and the Store interface.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Engine is a loaded configuration and, once started, the running channels. Reload
// replaces the configuration while it runs; what a reload cannot change (the admin
// listener, the store) is kept in Admin and StoreConfig.
type Engine struct {
	File        string
	Dir         string // folder of the config file: relative paths in it resolve from here
	Admin       AdminConfig
	StoreConfig StoreConfig
	StorePath   string // StoreConfig.Path: the SQLite file ("" with PostgreSQL)

	cfg       atomic.Pointer[config] // the configuration running (or loaded, before Start)
	building  atomic.Pointer[config] // the configuration Load or Reload is building
	reloadMu  sync.Mutex             // one Start, Reload or Stop at a time
	queues    map[queueKey]*queue    // the destination queues' workers (under reloadMu)
	retired   map[queueKey]*queue    // queues a reload dropped whose workers may still be ending
	changedMu sync.Mutex
	changed   chan struct{} // closed by the next reload (ConfigChanged)

	Log     *slog.Logger
	Node    string // this process's identity for queue leases
	store   Store
	started time.Time
	ctx     context.Context // the workers' (ended by Stop)
	cancel  context.CancelFunc
	workers sync.WaitGroup
	monitor monitor  // statistics samples for the admin UI (monitor.go)
	metrics *Metrics // Prometheus metrics (metrics.go); nil: off

	chanStates sync.Map // channel name -> operator state (chanstate.go); absent = started
}

// config is one loading of routes.yaml: what a reload swaps as a whole.
type config struct {
	text      []byte
	channels  []*Channel
	byName    map[string]*Channel
	services  []*serviceEntry // in the order the config names them
	byKey     map[serviceKey]*serviceEntry
	warnings  []ConfigError
	afterLoad []func()
	shared    string       // a digest of the functions and lookups every channel may use
	retention Retention    // the top-level retention, the channels' default (retention.go)
	alerts    AlertsConfig // the alerts: and smtp: blocks (alerts.go)
	admin     AdminConfig
	store     StoreConfig
	carried   map[string]any // what components built, by key, for the next reload (Carry)
	adminLine int            // where the file sets them (1: it does not)
	storeLine int
}

func newConfig(data []byte) *config {
	return &config{text: data, byName: map[string]*Channel{}, byKey: map[serviceKey]*serviceEntry{}, carried: map[string]any{}}
}

func newEngine(file string) *Engine {
	return &Engine{File: file, Log: slog.Default(), Node: newNodeID(), queues: map[queueKey]*queue{}, retired: map[queueKey]*queue{}}
}

// conf is the configuration being built while Load or Reload builds one, else the running one.
func (e *Engine) conf() *config {
	if c := e.building.Load(); c != nil {
		return c
	}
	return e.cfg.Load()
}

// Channels are the configuration's channels, in the order of the file.
func (e *Engine) Channels() []*Channel { return e.cfg.Load().channels }

// Channel returns a channel by name (nil when none has it).
func (e *Engine) Channel(name string) *Channel { return e.cfg.Load().byName[name] }

// Warnings are what loading the configuration found risky but allowed (e.g. patient data
// served without authentication): `junction check` prints them, serve logs them.
func (e *Engine) Warnings() []ConfigError { return e.cfg.Load().warnings }

// RetentionDefault is the top-level retention: that of channels without their own.
func (e *Engine) RetentionDefault() Retention { return e.cfg.Load().retention }

// Alerts are the configuration's alerts and SMTP settings.
func (e *Engine) Alerts() AlertsConfig { return e.cfg.Load().alerts }

// ConfigText is the configuration file's text as loaded.
func (e *Engine) ConfigText() []byte { return e.cfg.Load().text }

// serviceEntry is a registered Service and where the configuration names it.
type serviceEntry struct {
	serviceKey
	svc     Service
	line    int
	path    string
	started bool
}

// serviceKey is what a service serves: its protocol ("HTTP", "MLLP", "file") and its
// address (a listen address, a folder).
type serviceKey struct{ kind, addr string }

// AddService registers a source's service: kind names its protocol ("HTTP", "MLLP") and
// addr what it serves (a listen address, or a folder), so that the channels naming the
// same address find it with Service and share it; line and path name it in errors (a
// port in use, a listen address clashing with another). Services whose addr is a listen
// address (host:port) must not bind a port another service binds, unless it is the same
// service. A second registration under kind and addr is ignored.
func (e *Engine) AddService(kind, addr string, line int, path string, svc Service) {
	c := e.conf()
	k := serviceKey{kind, addr}
	if _, ok := c.byKey[k]; ok {
		return
	}
	s := &serviceEntry{serviceKey: k, svc: svc, line: line, path: path}
	c.byKey[k] = s
	c.services = append(c.services, s)
}

// Services lists the sources' services in the order the config names them.
func (e *Engine) Services() []Service {
	c := e.cfg.Load()
	out := make([]Service, len(c.services))
	for i, s := range c.services {
		out[i] = s.svc
	}
	return out
}

// Service returns the service of kind registered for addr, or nil.
func (e *Engine) Service(kind, addr string) Service {
	if s, ok := e.conf().byKey[serviceKey{kind, addr}]; ok {
		return s.svc
	}
	return nil
}

// A Bound service tells the address it bound once started (useful with port 0).
type Bound interface{ BoundAddr() string }

// BoundAddr is the address the first started service of kind bound ("" when none has).
func (e *Engine) BoundAddr(kind string) string {
	for _, s := range e.cfg.Load().services {
		if b, ok := s.svc.(Bound); ok && s.kind == kind && b.BoundAddr() != "" {
			return b.BoundAddr()
		}
	}
	return ""
}

// Store is the running store (nil before Start).
func (e *Engine) Store() Store { return e.store }

// StartedAt is when Start ran.
func (e *Engine) StartedAt() time.Time { return e.started }

// Start starts the destination workers with the given store, then the sources' services
// (which bind their ports and serve). A service that cannot start (a port in use) undoes
// everything started before it.
func (e *Engine) Start(store Store) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.store = store
	e.started = time.Now()
	if err := e.loadChannelStates(); err != nil {
		return err
	}
	c := e.cfg.Load()
	if err := e.startDestinations(c); err != nil {
		return err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.startMonitor(e.ctx)
	e.startPruner(e.ctx) // retention_run.go
	for _, ch := range c.channels {
		if ch.Enabled {
			for _, d := range ch.Destinations {
				e.startQueue(d)
			}
		}
	}
	if err := e.startServices(c); err != nil {
		e.cancel()
		e.cancel = nil
		e.workers.Wait() // each closes its destination
		e.closeUnqueued(c)
		e.queues = map[queueKey]*queue{}
		return err
	}
	return nil
}

// startDestinations starts the destinations of c that open resources (Starter); when
// one fails it closes those it started and returns the error with FILE:LINE.
func (e *Engine) startDestinations(c *config) error {
	var started []Destination
	for _, ch := range c.channels {
		for _, d := range ch.Destinations {
			s, ok := d.Dest.(Starter)
			if !ok {
				continue
			}
			if err := s.Start(); err != nil {
				for _, d := range started {
					closeDest(d)
				}
				return fmt.Errorf("%s:%d: channel %s destination %s: %w", e.File, d.Line, ch.Name, d.Name, err)
			}
			started = append(started, d.Dest)
		}
	}
	return nil
}

// closeDest closes a destination holding resources.
func closeDest(d Destination) {
	if c, ok := d.(Closer); ok {
		c.Close()
	}
}

// closeDestinations closes every destination of c.
func closeDestinations(c *config) {
	for _, ch := range c.channels {
		for _, d := range ch.Destinations {
			closeDest(d.Dest)
		}
	}
}

// closeUnqueued closes c's destinations that no queue's worker runs (those of disabled
// channels): the workers close their own.
func (e *Engine) closeUnqueued(c *config) {
	for _, ch := range c.channels {
		for _, d := range ch.Destinations {
			if q := e.queues[queueKey{ch.Name, d.Name}]; q == nil || !q.holds(d) {
				closeDest(d.Dest)
			}
		}
	}
}

// startServices starts c's services in order; when one fails, it stops those it started
// and returns the error with the configuration's FILE:LINE.
func (e *Engine) startServices(c *config) error {
	for _, s := range c.services {
		if err := e.startService(s); err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			e.stopServices(stopCtx, c.services)
			cancel()
			return err
		}
	}
	return nil
}

// startService starts one service; its error names where the configuration names it.
func (e *Engine) startService(s *serviceEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.svc.Start(ctx); err != nil {
		return fmt.Errorf("%s:%d: %s: %w", e.File, s.line, s.path, err)
	}
	s.started = true
	return nil
}

// stopServices stops the started services of list, last started first, each with ctx.
func (e *Engine) stopServices(ctx context.Context, list []*serviceEntry) error {
	var first error
	for i := len(list) - 1; i >= 0; i-- {
		if err := e.stopService(ctx, list[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (e *Engine) stopService(ctx context.Context, s *serviceEntry) error {
	if !s.started {
		return nil
	}
	s.started = false
	if err := s.svc.Stop(ctx); err != nil {
		return fmt.Errorf("%s:%d: %s: %w", e.File, s.line, s.path, err)
	}
	return nil
}

// Stop stops taking messages (in-flight requests and the messages the services are
// processing finish and are answered), then stops the destination workers after their
// current send. Queued messages stay in the store.
func (e *Engine) Stop(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	c := e.cfg.Load()
	first := e.stopServices(ctx, c.services)
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
	e.closeUnqueued(c)
	e.queues = map[queueKey]*queue{}
	return first
}
