// Package engine is Junction's domain and runtime: routes.yaml loading, channels and their
// pipeline, the destination queues and their workers, and the Store interface.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Engine is a loaded configuration and, once started, the running channels.
type Engine struct {
	File      string
	Dir       string // folder of the config file: relative paths in it resolve from here
	Config    []byte // the file's text
	Admin     AdminConfig
	StorePath string
	Retention Retention // the top-level retention, the channels' default (retention.go)
	Channels  []*Channel
	Alerts    AlertsConfig // alerts.go: the alerts: and smtp: blocks

	// Warnings are what Load found risky but allowed (e.g. patient data served without
	// authentication): `junction check` prints them, serve logs them.
	Warnings []ConfigError

	adminLine    int
	afterLoad    []func()
	byName       map[string]*Channel
	services     []*serviceEntry // in the order the config names them
	serviceByKey map[serviceKey]*serviceEntry

	Log     *slog.Logger
	Node    string // this process's identity for queue leases
	store   Store
	started time.Time
	cancel  context.CancelFunc
	workers sync.WaitGroup
	monitor monitor  // statistics samples for the admin UI (monitor.go)
	metrics *Metrics // Prometheus metrics (metrics.go); nil: off

	chanStates sync.Map // channel name -> operator state (chanstate.go); absent = started
}

func newEngine(file string, data []byte) *Engine {
	return &Engine{
		File:         file,
		Config:       data,
		byName:       map[string]*Channel{},
		Log:          slog.Default(),
		Node:         newNodeID(),
		serviceByKey: map[serviceKey]*serviceEntry{},
	}
}

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
	k := serviceKey{kind, addr}
	if _, ok := e.serviceByKey[k]; ok {
		return
	}
	s := &serviceEntry{serviceKey: k, svc: svc, line: line, path: path}
	e.serviceByKey[k] = s
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

// Service returns the service of kind registered for addr, or nil.
func (e *Engine) Service(kind, addr string) Service {
	if s, ok := e.serviceByKey[serviceKey{kind, addr}]; ok {
		return s.svc
	}
	return nil
}

// A Bound service tells the address it bound once started (useful with port 0).
type Bound interface{ BoundAddr() string }

// BoundAddr is the address the first started service of kind bound ("" when none has).
func (e *Engine) BoundAddr(kind string) string {
	for _, s := range e.services {
		if b, ok := s.svc.(Bound); ok && s.kind == kind && b.BoundAddr() != "" {
			return b.BoundAddr()
		}
	}
	return ""
}

// Channel returns a channel by name.
func (e *Engine) Channel(name string) *Channel { return e.byName[name] }

// Store is the running store (nil before Start).
func (e *Engine) Store() Store { return e.store }

// StartedAt is when Start ran.
func (e *Engine) StartedAt() time.Time { return e.started }

// Start starts the destination workers with the given store, then the sources' services
// (which bind their ports and serve). A service that cannot start (a port in use) undoes
// everything started before it.
func (e *Engine) Start(store Store) error {
	e.store = store
	e.started = time.Now()
	if err := e.loadChannelStates(); err != nil {
		return err
	}
	var started []Destination // closed again if the start fails part way
	fail := func(err error) error {
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
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.startMonitor(ctx)
	e.startPruner(ctx) // retention_run.go
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
	return nil
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

// Stop stops taking messages (in-flight requests and the messages the services are
// processing finish and are answered), then stops the destination workers after their
// current send. Queued messages stay in the store.
func (e *Engine) Stop(ctx context.Context) error {
	first := e.stopServices(ctx)
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
