package ui

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
)

// The admin's access page (/access): API tokens, created (the secret shown once),
// listed and revoked, and the operators' live sessions, revoked one at a time or all of
// a user's. Every action is a call of the API (tokens.go, sessions.go).

// routeAccess adds the routes of sessions.go, the access page and GET
// /api/messages/count (bulk.go).
func (s *Server) routeAccess(r chi.Router) {
	admin := auth.RoleAdmin
	r.Get("/api/messages/count", s.countMatching)
	r.Get("/api/sessions", s.need(admin, s.listSessions))
	r.Delete("/api/sessions/{ref}", s.need(admin, s.revokeSession))
	r.Delete("/api/users/{name}/sessions", s.need(admin, s.revokeUserSessions))
	r.Get("/access", s.need(admin, s.accessPage))
}

type accessData struct {
	Tokens      []engine.APIToken
	TokensError string
	Sessions    []sessionView
	Login       bool // login is on (a users file): sessions exist
	Roles       []string
}

func (s *Server) accessPage(w http.ResponseWriter, r *http.Request) {
	d := accessData{Login: s.users != nil, Roles: []string{string(auth.RoleViewer), string(auth.RoleOperator), string(auth.RoleAdmin)}}
	if ts, ok := s.tokenStore(); ok {
		list, err := ts.Tokens(r.Context())
		if err != nil {
			d.TokensError = "Cannot read the tokens: " + err.Error()
		}
		d.Tokens = list
	} else {
		d.TokensError = "This store keeps no API tokens."
	}
	if d.Login {
		list, err := s.liveSessions(r)
		if err != nil {
			s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot read the sessions: "+err.Error())
			return
		}
		d.Sessions = list
	}
	s.pages.render(w, r, http.StatusOK, "access", "Access", "access", d)
}
