package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// A Handover service can take over, during a reload, the running service of the same
// kind and address that the configuration being replaced started: it keeps that
// service's bound socket and open connections and serves its own routes from then on,
// so a reload refuses no connection. TakeOver reports false, doing nothing, when it
// cannot (e.g. different TLS or timeouts); the engine then stops the old service and
// starts the new one.
type Handover interface {
	TakeOver(old Service) bool
}

// ReloadReport says what a reload changed.
type ReloadReport struct {
	Added, Removed, Changed, Unchanged []string // channel names
	// Changes are readable lines, e.g. `channel ed-adt: transform[0]: "…" → "…"`; values
	// are shown as written in the file (a ${NAME} reference, not its value).
	Changes []string
	// Warnings are the new configuration's warnings (e.g. a source open to anyone).
	Warnings []string
	// Errors are what went wrong after the new configuration was checked and swapped in
	// (a listener whose settings changed could not bind again): logged, and shown to
	// whoever asked for the reload.
	Errors []string
}

// Reload reads the configuration file again and swaps it in (see ReloadBytes).
func (e *Engine) Reload(ctx context.Context, who string) (*ReloadReport, error) {
	data, err := os.ReadFile(e.File)
	if err != nil {
		return nil, err
	}
	return e.ReloadBytes(ctx, data, who)
}

// ErrNotRunning is the error of a reload of an engine that is not started.
var ErrNotRunning = errors.New("the engine is not running")

// ReloadBytes checks data as a whole new configuration and, when it has no error,
// swaps it in while the engine runs; on any error nothing changes and the error is
// returned (ConfigErrors with FILE:LINE for mistakes in the file).
//
// The new channels take over at once: sources keep their listeners where the address
// did not change (Handover) and serve the new channels from the next request or frame;
// requests and frames in progress finish on the channels they started with. Each
// destination queue keeps its worker, which finishes its send in progress and delivers
// the rest of the queue with the new destination configuration. A queue whose
// destination or channel is gone (or disabled) stops; its messages stay queued, and
// visible, until it is configured again. The admin listener and the store cannot change
// without a restart. who says who asked, for the audit trail.
func (e *Engine) ReloadBytes(ctx context.Context, data []byte, who string) (*ReloadReport, error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return nil, ErrNotRunning
	}
	old := e.cfg.Load()
	next, err := e.build(data)
	if err != nil {
		return nil, err
	}
	if err := e.restartOnly(old, next); err != nil {
		return nil, err
	}
	report := diffConfigs(old, next)
	if err := e.startDestinations(next); err != nil {
		return nil, err
	}
	pairs, prepared, err := e.prepareServices(ctx, old, next)
	if err != nil {
		closeDestinations(next)
		return nil, err
	}
	// Commit: nothing below refuses the new configuration, and whoever asked going away
	// must not stop it half-way or keep it from the audit trail.
	ctx = context.WithoutCancel(ctx)
	e.attachQueues(ctx, next)
	for _, s := range prepared {
		if err := e.startService(s); err != nil {
			report.Errors = append(report.Errors, err.Error())
		}
	}
	for _, p := range pairs {
		if msg := e.handOver(ctx, p[0], p[1], report); msg != "" {
			report.Errors = append(report.Errors, msg)
		}
	}
	e.cfg.Store(next)
	e.retire(ctx, old, next, pairs)
	for _, w := range next.warnings {
		report.Warnings = append(report.Warnings, w.Error())
	}
	e.recordReload(ctx, report, who)
	e.changedMu.Lock()
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
	e.changedMu.Unlock()
	return report, nil
}

// Carry returns what a component built under key while the running configuration was
// loaded, or what build makes now: the parts that depend only on their settings and are
// costly or stateful to make again (a token verifier with the keys it fetched) outlive a
// reload in which their settings did not change. key must say everything the value
// depends on (e.g. a digest of its YAML block, Digest). Only builders call it.
func (e *Engine) Carry(key string, build func() (any, error)) (any, error) {
	c := e.conf()
	if v, ok := c.carried[key]; ok {
		return v, nil
	}
	if run := e.cfg.Load(); run != nil && run != c {
		if v, ok := run.carried[key]; ok {
			c.carried[key] = v
			return v, nil
		}
	}
	v, err := build()
	if err == nil {
		c.carried[key] = v
	}
	return v, err
}

// Digest is a digest of a YAML block as loaded (after ${…} expansion), for Carry keys.
func Digest(n *Node) string { return digestOf(n.Y) }

// ConfigChanged is closed by the next successful reload: what reads the configuration
// once (the alerts runner) takes it before reading, and reads again when it closes.
func (e *Engine) ConfigChanged() <-chan struct{} {
	e.changedMu.Lock()
	defer e.changedMu.Unlock()
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// restartOnly refuses a new configuration changing what only a restart can change.
func (e *Engine) restartOnly(old, next *config) error {
	var errs ConfigErrors
	if next.admin != old.admin {
		errs = append(errs, ConfigError{File: e.File, Line: next.adminLine, Path: "admin",
			Msg: fmt.Sprintf("the admin block changed (listen %s, users_file %q; running: listen %s, users_file %q): only a restart applies it, so nothing was reloaded",
				next.admin.Listen, next.admin.UsersFile, old.admin.Listen, old.admin.UsersFile)})
	}
	if next.store != old.store {
		errs = append(errs, ConfigError{File: e.File, Line: next.storeLine, Path: "store",
			Msg: fmt.Sprintf("the store changed to %s %s (running: %s %s): only a restart applies it, so nothing was reloaded",
				next.store.Driver, next.store.Redacted(), old.store.Driver, old.store.Redacted())})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// A Preparer service does what may fail (bind its port, check its folders) in Prepare,
// before it serves: a reload prepares the new configuration's services before it changes
// anything, and refuses the configuration when one cannot (Stop undoes a Prepare).
type Preparer interface {
	Prepare(ctx context.Context) error
}

// prepareServices prepares the services of next that no running service of old serves
// (a new address, a new folder), and pairs the others with the running ones they
// replace. When one cannot be prepared, it undoes those it prepared and returns why.
func (e *Engine) prepareServices(ctx context.Context, old, next *config) (pairs [][2]*serviceEntry, prepared []*serviceEntry, err error) {
	for _, s := range next.services {
		if o := old.byKey[s.serviceKey]; o != nil && o.started {
			pairs = append(pairs, [2]*serviceEntry{o, s})
			continue
		}
		p, ok := s.svc.(Preparer)
		if !ok {
			prepared = append(prepared, s)
			continue
		}
		if err = p.Prepare(ctx); err != nil {
			err = e.prepareError(old, s, err)
			for _, s := range prepared {
				s.svc.Stop(ctx)
			}
			return nil, nil, err
		}
		prepared = append(prepared, s)
	}
	return pairs, prepared, nil
}

// prepareError names where s is configured, and, when a running service the new
// configuration drops holds its port, says that only a restart moves it.
func (e *Engine) prepareError(old *config, s *serviceEntry, err error) error {
	for _, o := range old.services {
		if o.started && portClash(o.addr, s.addr) {
			return fmt.Errorf("%s:%d: %s: %w: the running %s listener %q holds the port, and a reload cannot hand a port to a listener of another address spelling or protocol: restart Junction to apply this, so nothing was reloaded",
				e.File, s.line, s.path, err, o.kind, o.addr)
		}
	}
	return fmt.Errorf("%s:%d: %s: %w, so nothing was reloaded", e.File, s.line, s.path, err)
}

// attachQueues gives next's destinations their queues: the running queue of the same
// channel and destination, whose worker delivers with d from its next send on (what is
// queued, and what the channels being replaced still queue), a retired one whose worker
// is still finishing, or a new one.
func (e *Engine) attachQueues(ctx context.Context, next *config) {
	for _, ch := range next.channels {
		if !ch.Enabled {
			continue
		}
		for _, d := range ch.Destinations {
			key := queueKey{ch.Name, d.Name}
			if q := e.queues[key]; q != nil {
				d.q = q
				q.set(d)
				continue
			}
			if q := e.retired[key]; q != nil {
				delete(e.retired, key)
				if q.revive(d) {
					d.q, e.queues[key] = q, q
					continue
				}
				// Its worker is ending: one worker per queue, so wait for it.
				wctx, cancel := context.WithTimeout(ctx, time.Minute)
				q.waitDone(wctx)
				cancel()
			}
			e.startQueue(d)
		}
	}
}

// handOver replaces the running service old by s: s takes it over when it can, else old
// stops and s starts (the address is not served for that moment). It returns what went
// wrong, for the report.
func (e *Engine) handOver(ctx context.Context, old, s *serviceEntry, r *ReloadReport) string {
	if h, ok := s.svc.(Handover); ok && h.TakeOver(old.svc) {
		old.started, s.started = false, true
		return ""
	}
	r.Changes = append(r.Changes, fmt.Sprintf("%s %s (line %d): restarted (its settings changed in a way that needs it)", s.kind, s.addr, s.line))
	if err := e.stopService(ctx, old); err != nil {
		e.Log.Warn("reload: stopping a source's service", "err", err)
	}
	if err := e.startService(s); err != nil {
		e.Log.Error("reload: a source's service could not start again with its new settings", "err", err)
		return err.Error()
	}
	return ""
}

// retire stops the queues and services next no longer has, and closes old's
// destinations no worker runs.
func (e *Engine) retire(ctx context.Context, old, next *config, pairs [][2]*serviceEntry) {
	for key, q := range e.retired {
		select {
		case <-q.done:
			delete(e.retired, key)
		default:
		}
	}
	for key, q := range e.queues {
		if d := next.destination(key); d != nil && d.q == q {
			continue
		}
		delete(e.queues, key)
		e.retired[key] = q
		q.retire() // its worker finishes its send and closes its destination
		e.Log.Info("reload: queue stopped; its messages stay queued until it is configured again", "channel", key.channel, "destination", key.destination)
	}
	taken := map[*serviceEntry]bool{}
	for _, p := range pairs {
		taken[p[0]] = true
	}
	for _, s := range old.services {
		if !taken[s] {
			if err := e.stopService(ctx, s); err != nil {
				e.Log.Warn("reload: stopping a removed source's service", "err", err)
			}
		}
	}
	for _, ch := range old.channels {
		if !ch.Enabled {
			for _, d := range ch.Destinations {
				closeDest(d.Dest)
			}
		}
	}
}

// destination is the enabled channel's destination a queue key names, or nil.
func (c *config) destination(k queueKey) *DestinationRuntime {
	ch := c.byName[k.channel]
	if ch == nil || !ch.Enabled {
		return nil
	}
	for _, d := range ch.Destinations {
		if d.Name == k.destination {
			return d
		}
	}
	return nil
}

// recordReload logs the reload and adds it to the audit trail with what changed.
func (e *Engine) recordReload(ctx context.Context, r *ReloadReport, who string) {
	sum := sha256.Sum256(e.cfg.Load().text)
	detail := fmt.Sprintf("%s sha256=%s by %s: %d added, %d removed, %d changed, %d unchanged", e.File, hex.EncodeToString(sum[:]), who,
		len(r.Added), len(r.Removed), len(r.Changed), len(r.Unchanged))
	if len(r.Changes) > 0 {
		detail += "\n" + strings.Join(r.Changes, "\n")
	}
	for _, msg := range r.Errors {
		detail += "\nerror: " + msg
	}
	e.Log.Info("configuration reloaded", "by", who, "added", r.Added, "removed", r.Removed, "changed", r.Changed)
	if err := e.store.AddEvent(ctx, Event{Kind: "config-reloaded", Detail: detail}); err != nil {
		e.Log.Warn("cannot log the reload in the audit trail", "err", err)
	}
}
