// Package alerts evaluates the alerts declared in routes.yaml (engine.AlertsConfig)
// against the message store and the engine's state, and notifies by webhook and e-mail:
// once when an alert's condition starts (after its for:), once when it clears, and
// reminders at most every renotify: while it stays active. Alert state lives in the store
// (engine.AlertStore), so a restart neither fires an active alert again nor forgets it;
// every firing and clearing is an audit event.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"junction/engine"
)

// DefaultInterval is how often the runner evaluates every alert.
const DefaultInterval = 15 * time.Second

// Runner evaluates a configuration's alerts and sends their notifications.
type Runner struct {
	eng   *engine.Engine
	cfg   engine.AlertsConfig // the alerts as configured when New ran (a reload starts a new runner)
	store engine.AlertStore
	log   *slog.Logger
	// Interval is how often Run evaluates (DefaultInterval).
	Interval time.Duration
	baseURL  string

	mu        sync.Mutex // one evaluation at a time
	loaded    bool
	states    map[stateKey]engine.AlertState
	tracks    map[string]*destTrack
	startedAt time.Time

	notifiers map[*engine.Alert][]*notifier
	sends     sync.WaitGroup // notifications queued and not yet sent (or given up)
	quit      chan struct{}
	closeOnce sync.Once
}

type stateKey struct{ alert, subject string }

// New makes a runner for eng's alerts reading store. Its notifiers start at once; Close
// stops them.
func New(eng *engine.Engine, store engine.AlertStore, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.Default()
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	r := &Runner{eng: eng, cfg: eng.Alerts(), store: store, log: log.With("component", "alerts"), Interval: DefaultInterval,
		baseURL: eng.AdminBaseURL(host), states: map[stateKey]engine.AlertState{}, tracks: map[string]*destTrack{},
		startedAt: eng.StartedAt(), notifiers: map[*engine.Alert][]*notifier{}, quit: make(chan struct{})}
	if r.startedAt.IsZero() {
		r.startedAt = time.Now()
	}
	for _, a := range r.cfg.Alerts {
		for _, n := range a.Notify {
			r.notifiers[a] = append(r.notifiers[a], newNotifier(r, n))
		}
	}
	return r
}

// Start runs the alerts of eng on store in the background (Run) until ctx ends. It
// returns nil when there are no alerts, or the store cannot keep their state (logged).
func Start(ctx context.Context, eng *engine.Engine, store engine.AlertStore, log *slog.Logger) *Runner {
	r := newFor(eng, store, log)
	if r != nil {
		go r.Run(ctx)
	}
	return r
}

// Supervise runs eng's alerts in the background until ctx ends (serve calls it once
// the engine has started), and again with the new configuration after each reload: the
// replaced runner's queued notifications are sent first.
func Supervise(ctx context.Context, eng *engine.Engine, store engine.AlertStore, log *slog.Logger) {
	go func() {
		for {
			changed := eng.ConfigChanged()
			r := newFor(eng, store, log)
			evalCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if r != nil {
					r.loop(evalCtx)
				}
			}()
			select {
			case <-ctx.Done():
			case <-changed:
			}
			stop()
			<-done
			if r != nil {
				if ctx.Err() == nil {
					r.Drain()
				}
				r.Close()
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
}

// newFor is a runner of eng's alerts, or nil when there are none.
func newFor(eng *engine.Engine, store engine.AlertStore, log *slog.Logger) *Runner {
	if len(eng.Alerts().Alerts) == 0 {
		return nil
	}
	r := New(eng, store, log)
	r.log.Info("evaluating alerts", "alerts", len(r.cfg.Alerts), "every", r.Interval, "links", r.baseURL)
	return r
}

// Run evaluates every Interval until ctx ends, then stops the notifiers.
func (r *Runner) Run(ctx context.Context) {
	defer r.Close()
	r.loop(ctx)
}

// loop evaluates every Interval until ctx ends.
func (r *Runner) loop(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		if err := r.Evaluate(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Error("cannot evaluate the alerts", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the notifiers; notifications not yet sent are dropped (and logged).
func (r *Runner) Close() {
	r.closeOnce.Do(func() { close(r.quit) })
}

// Drain waits until every notification queued so far is sent or given up.
func (r *Runner) Drain() { r.sends.Wait() }

// Evaluate checks every alert once, as of now: it stores what changed, audits firings
// and clearings, and queues their notifications (Drain waits for them).
func (r *Runner) Evaluate(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		sts, err := r.store.AlertStates(ctx)
		if err != nil {
			return err
		}
		for _, st := range sts {
			r.states[stateKey{st.Alert, st.Subject}] = st
		}
		r.loaded = true
	}
	f := &facts{ctx: ctx, store: r.store}
	seen := map[stateKey]bool{}
	var first error
	for _, a := range r.cfg.Alerts {
		found, err := r.check(f, a, now)
		if err != nil {
			return fmt.Errorf("alert %s: %w", a.Name, err)
		}
		for _, fd := range found {
			seen[stateKey{a.Name, fd.subject}] = true
			if err := r.step(ctx, a, fd, now); err != nil && first == nil {
				first = err
			}
		}
	}
	// States of alerts or subjects no longer configured (routes.yaml changed) are let go.
	for k, st := range r.states {
		if seen[k] {
			continue
		}
		var ev *engine.Event
		if st.Active() {
			ev = &engine.Event{At: now, Channel: st.Channel, Destination: st.Destination, Kind: engine.EventAlertResolved,
				Detail: "alert " + st.Alert + ": no longer in the configuration"}
		}
		if err := r.store.DeleteAlertState(ctx, k.alert, k.subject, ev); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		delete(r.states, k)
	}
	return first
}

// step moves one alert's state for one subject: pending, firing (notified), reminded,
// resolved (notified) or gone. The store is written first; a notification follows only
// what was stored.
func (r *Runner) step(ctx context.Context, a *engine.Alert, fd finding, now time.Time) error {
	k := stateKey{a.Name, fd.subject}
	st, had := r.states[k]
	if !fd.holds {
		if !had {
			return nil
		}
		var ev *engine.Event
		if st.Active() {
			ev = r.event(a, st, engine.EventAlertResolved, now)
		}
		if err := r.store.DeleteAlertState(ctx, a.Name, fd.subject, ev); err != nil {
			return err
		}
		delete(r.states, k)
		if st.Active() {
			r.log.Info("alert resolved", "alert", a.Name, "subject", fd.subject)
			r.notify(a, st, fd, stateResolved, now)
		}
		return nil
	}
	if !had {
		st = engine.AlertState{Alert: a.Name, Subject: fd.subject, Channel: fd.channel, Destination: fd.destination, Since: now}
		if !fd.since.IsZero() && fd.since.Before(now) {
			st.Since = fd.since
		}
	}
	st.Detail = fd.detail
	var ev *engine.Event
	state := ""
	switch {
	case !st.Active() && now.Sub(st.Since) >= gate(a):
		at := now
		st.ActiveSince, st.Notified = &at, &at
		ev, state = r.event(a, st, engine.EventAlertFiring, now), stateFiring
	case st.Active() && a.Renotify > 0 && (st.Notified == nil || now.Sub(*st.Notified) >= a.Renotify):
		at := now
		st.Notified, state = &at, stateReminder
	case had:
		r.states[k] = st // nothing to store: the detail is kept in memory only
		return nil
	}
	if err := r.store.PutAlertState(ctx, st, ev); err != nil {
		return err
	}
	r.states[k] = st
	if state != "" {
		r.log.Warn("alert "+state, "alert", a.Name, "subject", fd.subject, "detail", fd.detail)
		r.notify(a, st, fd, state, now)
	}
	return nil
}

// gate is how long a condition must hold before the alert fires: for: of the conditions
// that have one as such (the others' thresholds are durations already).
func gate(a *engine.Alert) time.Duration {
	switch a.When.Kind {
	case engine.CondDestinationFailing, engine.CondChannelStopped:
		return a.When.For
	}
	return 0
}

func (r *Runner) event(a *engine.Alert, st engine.AlertState, kind string, now time.Time) *engine.Event {
	return &engine.Event{At: now, Channel: st.Channel, Destination: st.Destination, Kind: kind,
		Detail: "alert " + a.Name + ": " + a.When.Describe() + "; " + st.Detail}
}
