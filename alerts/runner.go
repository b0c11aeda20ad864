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

// ReloadDrain is how long a runner replaced by a reload may go on sending the
// notifications it queued, in the background: the new runner evaluates at once, and its
// notifications go out once the old runner is done (so each alert's stay in order).
var ReloadDrain = 30 * time.Second

// StopDrain is how long a stopping runner may take to send what it queued before it
// drops the rest (logged).
var StopDrain = 10 * time.Second

// Runner evaluates a configuration's alerts and sends their notifications.
type Runner struct {
	eng   *engine.Engine
	cfg   engine.AlertsConfig // the alerts as configured when New ran (a reload starts a new runner)
	store engine.AlertStore
	log   *slog.Logger
	// Interval is how often Run evaluates (DefaultInterval); an active queue, errors or
	// source_silent alert clears after its condition has been false for two of them.
	Interval time.Duration
	baseURL  string

	mu        sync.Mutex // one evaluation at a time
	loaded    bool
	states    map[stateKey]engine.AlertState
	clearing  map[stateKey]time.Time // active states whose condition is false: since when
	lastTold  map[stateKey]time.Time // when each alert and subject last notified its resolution
	startedAt time.Time

	notifiers map[*engine.Alert][]*notifier
	after     <-chan struct{} // the notifiers send once it is closed (nil: at once)
	sends     sync.WaitGroup  // notifications queued and not yet sent (or given up)
	running   sync.WaitGroup  // the notifiers' goroutines
	quit      chan struct{}
	closeOnce sync.Once
}

type stateKey struct{ alert, subject string }

// New makes a runner for eng's alerts reading store. Its notifiers start at once; Close
// or Stop stops them.
func New(eng *engine.Engine, store engine.AlertStore, log *slog.Logger) *Runner {
	return newRunner(eng, store, log, nil)
}

// newRunner is New, its notifiers sending once after is closed (nil: at once).
func newRunner(eng *engine.Engine, store engine.AlertStore, log *slog.Logger, after <-chan struct{}) *Runner {
	if log == nil {
		log = slog.Default()
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	r := &Runner{eng: eng, cfg: eng.Alerts(), store: store, log: log.With("component", "alerts"), Interval: DefaultInterval,
		baseURL: eng.AdminBaseURL(host), states: map[stateKey]engine.AlertState{}, clearing: map[stateKey]time.Time{},
		lastTold: map[stateKey]time.Time{}, startedAt: eng.StartedAt(), notifiers: map[*engine.Alert][]*notifier{},
		after: after, quit: make(chan struct{})}
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
// returns nil when there are no alerts.
func Start(ctx context.Context, eng *engine.Engine, store engine.AlertStore, log *slog.Logger) *Runner {
	r := newFor(eng, store, log, nil)
	if r != nil {
		go r.Run(ctx)
	}
	return r
}

// Supervise runs eng's alerts in the background until ctx ends (serve calls it once
// the engine has started), and again with the new configuration after each reload. At
// a reload the replaced runner first resolves, with a notice, the active alerts the new
// configuration no longer has, then sends what it queued in the background (at most
// ReloadDrain) while the new runner evaluates at once. When ctx ends the runner sends
// what it queued (at most StopDrain); the channel returned is closed then.
func Supervise(ctx context.Context, eng *engine.Engine, store engine.AlertStore, log *slog.Logger) <-chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var prev <-chan struct{} // closed once the replaced runner is done sending
		for {
			changed := eng.ConfigChanged()
			r := newFor(eng, store, log, prev)
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
			if ctx.Err() != nil {
				if r != nil {
					r.Stop(StopDrain)
				}
				return
			}
			if r == nil {
				continue // the runner before (if any) is still prev
			}
			r.retire(ctx, eng.Alerts())
			retired := make(chan struct{})
			go func() {
				defer close(retired)
				r.Stop(ReloadDrain)
			}()
			prev = retired
		}
	}()
	return stopped
}

// newFor is a runner of eng's alerts, or nil when there are none.
func newFor(eng *engine.Engine, store engine.AlertStore, log *slog.Logger, after <-chan struct{}) *Runner {
	if len(eng.Alerts().Alerts) == 0 {
		return nil
	}
	r := newRunner(eng, store, log, after)
	r.log.Info("evaluating alerts", "alerts", len(r.cfg.Alerts), "every", r.Interval, "links", r.baseURL)
	return r
}

// Run evaluates every Interval until ctx ends, then stops (Stop, within StopDrain).
func (r *Runner) Run(ctx context.Context) {
	defer func() { r.Stop(StopDrain) }()
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

// Close stops the notifiers at once; notifications not yet sent are dropped (and
// logged).
func (r *Runner) Close() {
	r.closeOnce.Do(func() { close(r.quit) })
}

// Stop waits up to d for the notifications queued so far to be sent (or given up), then
// closes the runner, dropping the rest (logged), and waits for its notifiers to end.
// Nothing may be evaluated meanwhile.
func (r *Runner) Stop(d time.Duration) {
	drained := make(chan struct{})
	go func() {
		r.sends.Wait()
		close(drained)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		r.log.Error("alert notifications still not sent after " + d.String() + ": dropping them")
	}
	r.Close()
	r.running.Wait()
}

// Drain waits until every notification queued so far is sent or given up.
func (r *Runner) Drain() { r.sends.Wait() }

// Evaluate checks every alert once, as of now: it stores what changed, audits firings
// and clearings, and queues their notifications (Drain waits for them).
func (r *Runner) Evaluate(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx); err != nil {
		return err
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
		if err := r.letGo(ctx, st, "no longer watched: its channel or destination was removed from the configuration or disabled", now); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// letGo deletes a state no evaluation sees any more. An active one is resolved, with a
// notice when its alert is still configured (its subject is gone); an alert that is
// gone from the configuration cannot notify: Supervise had the runner before the reload
// resolve it (retire), and after a restart only the audit event tells.
func (r *Runner) letGo(ctx context.Context, st engine.AlertState, why string, now time.Time) error {
	for _, a := range r.cfg.Alerts {
		if a.Name == st.Alert {
			return r.resolve(ctx, a, st, finding{detail: why, link: a.When.Link(st.Channel, st.Destination, now)}, now)
		}
	}
	var ev *engine.Event
	if st.Active() {
		ev = &engine.Event{At: now, Channel: st.Channel, Destination: st.Destination, Kind: engine.EventAlertResolved,
			Detail: "alert " + st.Alert + ": no longer in the configuration"}
		r.log.Warn("alert resolved without a notice: no longer in the configuration", "alert", st.Alert, "subject", st.Subject)
	}
	if err := r.store.DeleteAlertState(ctx, st.Alert, st.Subject, ev); err != nil {
		return err
	}
	k := stateKey{st.Alert, st.Subject}
	delete(r.states, k)
	delete(r.clearing, k)
	return nil
}

// retire resolves, through this runner's notifiers, the states of alerts that next (the
// configuration a reload brought) no longer has: the runner after it could not notify
// them. Supervise calls it once the runner no longer evaluates.
func (r *Runner) retire(ctx context.Context, next engine.AlertsConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx); err != nil {
		r.log.Error("cannot resolve the alerts a reload removed", "err", err)
		return
	}
	keep := map[string]bool{}
	for _, a := range next.Alerts {
		keep[a.Name] = true
	}
	now := time.Now()
	for _, st := range r.states {
		if keep[st.Alert] {
			continue
		}
		if err := r.letGo(ctx, st, "the alert was removed from the configuration (reload)", now); err != nil {
			r.log.Error("cannot resolve an alert removed by a reload", "alert", st.Alert, "subject", st.Subject, "err", err)
		}
	}
}

// load reads the stored states once.
func (r *Runner) load(ctx context.Context) error {
	if r.loaded {
		return nil
	}
	sts, err := r.store.AlertStates(ctx)
	if err != nil {
		return err
	}
	for _, st := range sts {
		r.states[stateKey{st.Alert, st.Subject}] = st
	}
	r.loaded = true
	return nil
}

// step moves one alert's state for one subject: pending, firing (notified), reminded,
// resolved (notified) or gone. The store is written first; a notification follows only
// what was stored.
func (r *Runner) step(ctx context.Context, a *engine.Alert, fd finding, now time.Time) error {
	k := stateKey{a.Name, fd.subject}
	st, had := r.states[k]
	if !fd.holds {
		if !had || (st.Active() && !r.cleared(a, k, now)) {
			return nil
		}
		return r.resolve(ctx, a, st, fd, now)
	}
	delete(r.clearing, k)
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
		if last, ok := r.lastTold[k]; ok && a.Renotify > 0 && now.Sub(last) < a.Renotify {
			// Fired again within renotify of its last notice: recorded, not notified
			// (yet: it is, as firing, once renotify has passed and it still holds).
			st.Notified, state = &last, ""
			r.log.Warn("alert firing again within renotify of its last notice: not notified", "alert", a.Name, "subject", fd.subject, "detail", fd.detail)
		}
	case st.Active() && a.Renotify > 0 && (st.Notified == nil || now.Sub(*st.Notified) >= a.Renotify):
		state = stateReminder
		if !told(st) {
			state = stateFiring
		}
		at := now
		st.Notified = &at
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

// resolve deletes st, audits an active one's clearing and notifies it, when its firing
// was notified.
func (r *Runner) resolve(ctx context.Context, a *engine.Alert, st engine.AlertState, fd finding, now time.Time) error {
	k := stateKey{st.Alert, st.Subject}
	var ev *engine.Event
	if st.Active() {
		ev = r.event(a, st, engine.EventAlertResolved, now)
	}
	if err := r.store.DeleteAlertState(ctx, st.Alert, st.Subject, ev); err != nil {
		return err
	}
	delete(r.states, k)
	delete(r.clearing, k)
	switch {
	case !st.Active():
	case told(st):
		r.log.Info("alert resolved", "alert", a.Name, "subject", st.Subject)
		r.notify(a, st, fd, stateResolved, now)
		r.lastTold[k] = now
	default:
		r.log.Info("alert resolved: not notified, as its firing was not", "alert", a.Name, "subject", st.Subject)
	}
	return nil
}

// told tells whether an active state's firing was notified: a firing within renotify of
// the last notice keeps that notice's time, before active_since.
func told(st engine.AlertState) bool {
	return st.Notified != nil && !st.Notified.Before(*st.ActiveSince)
}

// cleared tells whether an active alert whose condition no longer holds may resolve: at
// once for destination_failing (a send succeeded) and channel_stopped (an operator
// started the channel); for the threshold conditions (queue, errors, source_silent) once
// the condition has been false for two evaluation intervals, so a value going back and
// forth across the threshold does not resolve and fire again at every evaluation.
func (r *Runner) cleared(a *engine.Alert, k stateKey, now time.Time) bool {
	switch a.When.Kind {
	case engine.CondDestinationFailing, engine.CondChannelStopped:
		return true
	}
	from, ok := r.clearing[k]
	if !ok {
		r.clearing[k] = now
		return false
	}
	return now.Sub(from) >= 2*r.Interval
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
