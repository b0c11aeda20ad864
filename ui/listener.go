package ui

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Limits bound what the admin listener gives its clients.
type Limits struct {
	ReadHeaderTimeout time.Duration // time to send the request headers
	ReadTimeout       time.Duration // time to send the whole request
	WriteTimeout      time.Duration // time to read the whole answer
	MaxConcurrent     int           // requests served at once; more get 503 at once
}

// DefaultLimits are the senders' HTTP listeners' defaults.
var DefaultLimits = Limits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, MaxConcurrent: 512}

// NewHTTPServer is the admin listener's server for h (a Server) with limits (a zero
// field takes its default), so a client slow to send its headers or body, or to read
// the answer, is cut off, and requests beyond MaxConcurrent get 503 with Retry-After at
// once rather than piling up.
func NewHTTPServer(h http.Handler, limits Limits, log *slog.Logger) *http.Server {
	d := DefaultLimits
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
