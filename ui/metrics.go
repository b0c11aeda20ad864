package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// GET /metrics: the Prometheus metrics (docs/metrics.md) in the text exposition format (or
// OpenMetrics, as the scraper asks), behind the same authentication as the API: with
// admin.users_file, an API token as bearer (any role: Prometheus's scrape_config
// authorization.credentials_file holds it) or a session; without, open like the rest.

// WithMetrics serves the metrics g gathers at GET /metrics. Without it /metrics answers
// 404.
func WithMetrics(g prometheus.Gatherer) Option {
	return func(s *Server) {
		s.metrics = promhttp.HandlerFor(g, promhttp.HandlerOpts{
			// A metric the store could not read is logged and left out; the others are
			// served (a scrape that fails whole would hide the process's own metrics).
			ErrorHandling:       promhttp.ContinueOnError,
			ErrorLog:            metricsLog{s},
			MaxRequestsInFlight: 4,
			Timeout:             scrapeTimeout,
		})
	}
}

// scrapeTimeout bounds a scrape (the store's reads take milliseconds).
const scrapeTimeout = 10 * time.Second

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are off in this process")
		return
	}
	s.metrics.ServeHTTP(w, r)
}

// metricsLog writes promhttp's errors to the engine's log.
type metricsLog struct{ s *Server }

func (l metricsLog) Println(v ...any) {
	l.s.eng.Log.Warn("metrics: " + fmt.Sprint(v...))
}
