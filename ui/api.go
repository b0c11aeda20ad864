// Package ui serves the admin listener: the operators' JSON API (and, later, the web UI
// that is its client).
package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/engine"
)

// Server is the admin HTTP handler.
type Server struct {
	eng    *engine.Engine
	router chi.Router
}

// New builds the admin handler for a started engine.
func New(eng *engine.Engine) *Server {
	s := &Server{eng: eng, router: chi.NewRouter()}
	r := s.router
	r.Get("/api/channels", s.listChannels)
	r.Get("/api/messages", s.listMessages)
	r.Get("/api/messages/{id}", s.getMessage)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path)
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.router.ServeHTTP(w, r)
}

type channelView struct {
	Name         string              `json:"name"`
	Description  string              `json:"description,omitempty"`
	Enabled      bool                `json:"enabled"`
	Source       string              `json:"source"`
	DataTypes    []string            `json:"data_types"`
	Destinations []destinationView   `json:"destinations"`
	Stats        engine.ChannelStats `json:"stats"`
}

type destinationView struct {
	Name   string                   `json:"name"`
	Type   string                   `json:"type"`
	Retry  retryView                `json:"retry"`
	Counts engine.DestinationCounts `json:"counts"`
}

type retryView struct {
	Attempts   int    `json:"attempts"`
	Backoff    string `json:"backoff"`
	MaxBackoff string `json:"max_backoff"`
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) {
	stats, err := s.eng.Store().Stats(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read statistics: "+err.Error())
		return
	}
	out := make([]channelView, 0, len(s.eng.Channels))
	for _, ch := range s.eng.Channels {
		st := stats[ch.Name]
		v := channelView{Name: ch.Name, Description: ch.Description, Enabled: ch.Enabled, Source: ch.SourceInfo, DataTypes: ch.DataTypes, Stats: st}
		if v.Stats.Destinations == nil {
			v.Stats.Destinations = map[string]engine.DestinationCounts{}
		}
		for _, d := range ch.Destinations {
			v.Destinations = append(v.Destinations, destinationView{
				Name: d.Name, Type: d.Type, Counts: st.Destinations[d.Name],
				Retry: retryView{Attempts: d.Retry.Attempts, Backoff: d.Retry.Backoff.String(), MaxBackoff: d.Retry.MaxBackoff.String()},
			})
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out, "started_at": s.eng.StartedAt().UTC().Format(time.RFC3339)})
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := engine.MessageFilter{Channel: q.Get("channel"), Status: engine.Status(q.Get("status"))}
	if f.Channel != "" && s.eng.Channel(f.Channel) == nil {
		writeError(w, http.StatusBadRequest, "channel: no channel is named "+strconv.Quote(f.Channel))
		return
	}
	if f.Status != "" && !engine.ValidStatus(string(f.Status)) {
		writeError(w, http.StatusBadRequest, "status: expected one of RECEIVED, FILTERED, TRANSFORMED, QUEUED, SENT, ERROR, got "+strconv.Quote(string(f.Status)))
		return
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 100, 1, 1000); err != nil {
		writeError(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	before, err := intParam(q.Get("before"), 0, 1, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, "before: "+err.Error())
		return
	}
	f.BeforeID = int64(before)
	msgs, err := s.eng.Store().ListMessages(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot list messages: "+err.Error())
		return
	}
	resp := map[string]any{"messages": msgs}
	if len(msgs) == f.Limit {
		resp["next"] = msgs[len(msgs)-1].ID // pass as before= for the next page
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "message id must be a positive whole number, got "+strconv.Quote(chi.URLParam(r, "id")))
		return
	}
	m, err := s.eng.Store().GetMessage(r.Context(), id)
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no message has id "+strconv.FormatInt(id, 10))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read message: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func intParam(s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		return 0, errors.New("expected a whole number from " + strconv.Itoa(min) + " to " + strconv.Itoa(max) + ", got " + strconv.Quote(s))
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
