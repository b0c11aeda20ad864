package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"junction/auth"
	"junction/engine"
)

// Operator accounts. With a users file (admin.users_file) every request but the login
// needs a session: the API answers 401 JSON, a page redirects to /login. Each route needs
// a role: viewer reads, operator also acts (resend, reprocess, jobs, pause/resume), admin
// also reads the audit log, removes messages and manages API tokens (tokens.go), which
// authenticate API clients instead of a session. Without a users file the UI and API are open, as before.

// Option configures a Server.
type Option func(*Server)

// WithUsers turns login on: only these operator accounts may use the UI and API.
func WithUsers(u *auth.Users) Option {
	return func(s *Server) { s.users = u }
}

// csrfTokenHeader carries the session's CSRF token on mutating requests. The pages hold it
// in <meta name="csrf-token">; POST /api/login returns it to API clients.
const csrfTokenHeader = "X-CSRF-Token"

type sessionKey struct{}

// sessionOf is the request's session; ok is false when login is off.
func sessionOf(r *http.Request) (auth.Session, bool) {
	s, ok := r.Context().Value(sessionKey{}).(auth.Session)
	return s, ok
}

// public paths need no session: the login page and API, and the static files.
func public(r *http.Request) bool {
	p := r.URL.Path
	return p == "/login" || p == "/api/login" || p == "/api/logout" || strings.HasPrefix(p, "/static/")
}

// authenticate finds the session of every request when login is on, refusing requests
// without one, and mutating requests without the session's CSRF token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.users == nil || public(r) {
			next.ServeHTTP(w, r)
			return
		}
		if secret, ok := bearer(r); ok {
			sess, err := s.tokenSession(r.Context(), secret)
			if err != nil {
				if !errors.Is(err, engine.ErrNotFound) {
					s.eng.Log.Warn("cannot check an API token", "err", err)
				}
				writeError(w, http.StatusUnauthorized, "the API token is unknown or revoked")
				return
			}
			// No cookie, so no cross-site risk: no CSRF token needed.
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
			return
		}
		sess, ok := s.requestSession(r)
		if !ok {
			if r.Method == http.MethodGet && wantsHTML(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			writeError(w, http.StatusUnauthorized, "log in first: POST /api/login with {\"username\", \"password\"}")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !sess.CheckCSRF(r.Header.Get(csrfTokenHeader)) {
				writeError(w, http.StatusForbidden, "send the session's CSRF token (csrf_token from POST /api/login) in the header "+csrfTokenHeader)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// need wraps a handler that requires a role (when login is on).
func (s *Server) need(role auth.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := sessionOf(r); ok && !auth.Allows(sess.Role, role) {
			msg := "this needs the " + string(role) + " role (or higher); " + sess.User + " is " + string(sess.Role)
			if r.Method == http.MethodGet && wantsHTML(r) {
				s.pages.problem(w, r, http.StatusForbidden, msg+".")
				return
			}
			writeError(w, http.StatusForbidden, msg)
			return
		}
		h(w, r)
	}
}

// loginBody is the body of POST /api/login.
type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// maxLoginBody bounds a login's body: a name of 64 characters and a password of 1024
// bytes, JSON-escaped, fit many times over.
const maxLoginBody = 16 << 10

// login checks a password within the limiter's limits (auth.LoginLimiter): the attempt is
// counted before the hash, concurrent hashes are capped, and an attacker's failures
// throttle his address, not the account's owner elsewhere.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		writeError(w, http.StatusNotFound, "no operator accounts are configured (admin.users_file): the UI and API are open")
		return
	}
	var body loginBody
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := readBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	addr := auth.RemoteHost(r)
	var role auth.Role
	ok, err := s.limiter.Attempt(r.Context(), addr, body.Username, func() bool {
		var err error
		role, err = s.accounts().Check(body.Username, body.Password)
		return err == nil
	})
	var refused *auth.Refusal
	switch {
	case errors.As(err, &refused):
		w.Header().Set("Retry-After", strconv.Itoa(refused.RetryAfterSeconds()))
		writeError(w, refused.Status, refused.Error())
		s.eng.Log.Warn("login refused: "+refused.Error(), "user", quoteName(body.Username), "from", addr)
		return
	case err != nil: // the client went away while its attempt waited
		writeError(w, http.StatusServiceUnavailable, "the login was abandoned: "+err.Error())
		return
	case !ok:
		s.audit(r, engine.Event{Kind: "login-failed", Detail: "by " + quoteName(body.Username) + " from " + addr + ": " + auth.ErrBadCredentials.Error()})
		writeError(w, http.StatusUnauthorized, auth.ErrBadCredentials.Error())
		return
	}
	sess, err := s.createSession(r.Context(), body.Username, role)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	http.SetCookie(w, s.sessions.Cookie(r, sess))
	s.audit(r, engine.Event{Kind: "login", Detail: "by " + sess.User + " (" + string(role) + ") from " + addr})
	writeJSON(w, http.StatusOK, map[string]any{"user": sess.User, "role": role, "csrf_token": sess.CSRF,
		"expires": sess.Expires.UTC().Format(time.RFC3339)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if s.users != nil {
		if sess, ok := s.requestSession(r); ok {
			if !sess.CheckCSRF(r.Header.Get(csrfTokenHeader)) {
				writeError(w, http.StatusForbidden, "send the session's CSRF token in the header "+csrfTokenHeader)
				return
			}
			s.endSession(r.Context(), sess)
			s.audit(r, engine.Event{Kind: "logout", Detail: "by " + sess.User + " (" + string(sess.Role) + ") from " + auth.RemoteHost(r)})
		}
		http.SetCookie(w, s.sessions.ClearCookie(r))
	}
	writeJSON(w, http.StatusOK, map[string]any{"logged_out": true})
}

// audit appends to the audit trail; a failure is logged, not answered.
func (s *Server) audit(r *http.Request, ev engine.Event) {
	if err := s.eng.Store().AddEvent(r.Context(), ev); err != nil {
		s.eng.Log.Warn("cannot write the audit log", "kind", ev.Kind, "err", err)
	}
}

// quoteName quotes a user name as typed (hostile input), cut to 64 characters.
func quoteName(name string) string {
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	return strconv.QuoteToASCII(name)
}

// auditEntry is one event of the audit log, with the user it names.
type auditEntry struct {
	engine.Event
	User string `json:"user,omitempty"`
}

var byUser = regexp.MustCompile(`(?:^|[ ;])by ("(?:[^"\\]|\\.)*"|[^\s"]+)`)

// userIn finds who an event's detail names ("by NAME (role) from …").
func userIn(detail string) string {
	m := byUser.FindStringSubmatch(detail)
	if m == nil {
		return ""
	}
	if u, err := strconv.Unquote(m[1]); err == nil {
		return u
	}
	return m[1]
}

// auditLog is the newest limit events of the audit trail: logins and operator actions on
// every configured channel.
func (s *Server) auditLog(ctx context.Context, limit int) ([]auditEntry, error) {
	el := s.eng.Store()
	var all []engine.Event
	for _, name := range append([]string{""}, channelNames(s.eng)...) {
		evs, err := el.Events(ctx, name, limit)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, func(a, b engine.Event) int { return b.At.Compare(a.At) })
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]auditEntry, len(all))
	for i, ev := range all {
		out[i] = auditEntry{Event: ev, User: userIn(ev.Detail)}
	}
	return out, nil
}

func channelNames(eng *engine.Engine) []string {
	var out []string
	for _, ch := range eng.Channels() {
		out = append(out, ch.Name)
	}
	return out
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r.URL.Query().Get("limit"), 100, 1, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	evs, err := s.auditLog(r.Context(), limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read the audit log: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

// ---------------------------------------------------------------------------------------
// Pages

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	s.pages.render(w, r, http.StatusOK, "login", "Log in", "", next)
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	evs, err := s.auditLog(r.Context(), 500)
	if err != nil {
		s.pages.problem(w, r, http.StatusServiceUnavailable, "Cannot read the audit log: "+err.Error())
		return
	}
	s.pages.render(w, r, http.StatusOK, "audit", "Audit log", "audit", evs)
}
