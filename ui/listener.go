package ui

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"junction/engine"
)

// NewHTTPServer is the admin listener's server for h (a Server): the senders' listeners'
// limits (pass engine.DefaultLimits; a zero field takes its default), so a client slow to
// send its headers or body, or to read the answer, is cut off, and requests beyond
// MaxConcurrent get 503 with Retry-After at once rather than piling up.
func NewHTTPServer(h http.Handler, limits engine.ListenerLimits, log *slog.Logger) *http.Server {
	d := engine.DefaultLimits
	if limits.ReadHeaderTimeout <= 0 {
		limits.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if limits.ReadTimeout <= 0 {
		limits.ReadTimeout = d.ReadTimeout
	}
	if limits.WriteTimeout <= 0 {
		limits.WriteTimeout = d.WriteTimeout
	}
	if limits.MaxConcurrent <= 0 {
		limits.MaxConcurrent = d.MaxConcurrent
	}
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           capConcurrent(h, limits.MaxConcurrent),
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// capConcurrent answers 503 at once when max requests are already being served (as the
// senders' listeners do), so a flood cannot pile up goroutines and memory.
func capConcurrent(h http.Handler, max int) http.Handler {
	slots := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many concurrent requests on the admin listener (limit %d): try again shortly", max))
		}
	})
}
