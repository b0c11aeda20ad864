package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/ui"
)

// serveMetrics makes the process's one metrics registry: the engine's metrics (its
// hooks on, the store's counters read at each scrape), the store's commits, and Go's
// runtime and the process (CPU, memory, open files). The admin listener serves it at
// GET /metrics (the option returned). Call it after Load and before Start.
func serveMetrics(eng *engine.Engine, store *sqlite.Store) ui.Option {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := eng.EnableMetrics(reg)
	if err != nil {
		// A fresh registry refuses only a metric registered twice: a bug.
		panic(fmt.Sprintf("registering the engine's metrics: %v", err))
	}
	store.SetCommitObserver(m.ObserveCommit)
	return ui.WithMetrics(reg)
}
