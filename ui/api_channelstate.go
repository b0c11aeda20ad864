package ui

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"junction/engine"
)

// setChannelState stops, pauses or starts a channel (POST /api/channels/{name}/stop,
// /pause, /start; operator role). The engine stores the state and audits it with actor.
func (s *Server) setChannelState(state string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		if err := s.eng.SetChannelState(r.Context(), name, state, actor(r)); err != nil {
			writeOpError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"channel": name, "state": state})
	}
}

// channelStates are the operator actions on a channel, by the path that asks for them.
var channelStates = []struct{ action, state string }{
	{"stop", engine.ChannelStopped},
	{"start", engine.ChannelStarted},
	{"pause", engine.ChannelPaused},
}
