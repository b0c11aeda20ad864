package engine

import (
	"context"
	"sync"
	"time"
)

// The monitor samples the store's lifetime counters for the admin UI: the counts at
// Start (so the UI can show counts since start) and one sample every SampleEvery for the
// last hour (throughput). It reads the counters the store keeps anyway, so it costs the
// message path nothing. With a store shared by several nodes the figures are the whole
// cluster's.

// SampleEvery is how often the monitor samples the counters.
var SampleEvery = 10 * time.Second

// sampleKeep is how long samples are kept.
const sampleKeep = time.Hour + 2*time.Minute

// StatsSample is the store's lifetime counters at one moment.
type StatsSample struct {
	At    time.Time
	Stats map[string]ChannelStats
}

type monitor struct {
	mu      sync.Mutex
	base    StatsSample
	samples []StatsSample // oldest first
}

// startMonitor takes the baseline and starts sampling until ctx ends.
func (e *Engine) startMonitor(ctx context.Context) {
	e.monitor.mu.Lock()
	e.monitor.base = StatsSample{At: e.started, Stats: map[string]ChannelStats{}}
	e.monitor.samples = nil
	e.monitor.mu.Unlock()
	take := func() {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := e.store.Stats(rctx)
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("cannot sample statistics", "err", err)
			}
			return
		}
		now := time.Now()
		m := &e.monitor
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.samples) == 0 {
			m.base.Stats = st
		}
		m.samples = append(m.samples, StatsSample{At: now, Stats: st})
		drop := 0
		for drop < len(m.samples) && now.Sub(m.samples[drop].At) > sampleKeep {
			drop++
		}
		m.samples = append(m.samples[:0], m.samples[drop:]...)
	}
	take() // the baseline, before any worker or listener runs
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		t := time.NewTicker(SampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				take()
			}
		}
	}()
}

// Baseline is the store's counters when the engine started.
func (e *Engine) Baseline() StatsSample {
	e.monitor.mu.Lock()
	defer e.monitor.mu.Unlock()
	return e.monitor.base
}

// StatsHistory is the counters sampled over the last hour, oldest first.
func (e *Engine) StatsHistory() []StatsSample {
	e.monitor.mu.Lock()
	defer e.monitor.mu.Unlock()
	return append([]StatsSample(nil), e.monitor.samples...)
}
