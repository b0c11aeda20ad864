package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
)

// Login sessions kept in the store (engine.SessionKeeper): they survive a restart, hold
// on every node sharing the store, and can be revoked: logout ends one, an admin ends one
// or all of a user's (GET/DELETE /api/sessions, DELETE /api/users/{name}/sessions), and a
// session whose account was removed, disabled or changed (role, password) ends at its
// next request (auth.Users.Stamp). The store keeps the SHA-256 of each session id only;
// the CSRF token is derived from the id, so nothing stored lets anyone act as an
// operator. Ended sessions are deleted a batch at a time, at most once a minute, when
// someone logs in. A store that keeps no sessions leaves them in memory
// (auth.SessionStore), as before.

const (
	sessionTouchEvery = time.Minute // how often a session's last use is written
	sessionSweepEvery = time.Minute // how often ended sessions are looked for, at a login
	sessionSweepBatch = 500         // ended sessions deleted at a time
)

// loginState is the Server's state for sessions and accounts.
type loginState struct {
	usersFile *usersFile // nil: the accounts given are never read again
	sweepMu   sync.Mutex
	sweptAt   time.Time
}

func (s *Server) sessionKeeper() (engine.SessionKeeper, bool) {
	k := s.eng.Store()
	return k, k != nil
}

func sessionHash(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// csrfFor is a session's CSRF token: an HMAC of a constant keyed with the session id.
func csrfFor(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("junction csrf token"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// createSession starts a session for a user who has just logged in.
func (s *Server) createSession(ctx context.Context, user string, role auth.Role) (auth.Session, error) {
	k, ok := s.sessionKeeper()
	if !ok {
		return s.sessions.Create(user, role)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return auth.Session{}, fmt.Errorf("drawing a random session id: %v", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	s.sweepSessions(ctx, k, now)
	stamp := s.accounts().Stamp(user)
	if stamp == "" { // removed or disabled since its password was checked
		return auth.Session{}, fmt.Errorf("the account %s was removed or disabled meanwhile", user)
	}
	rec := engine.SessionRecord{Hash: sessionHash(id), User: user, Role: string(role), Stamp: stamp,
		Created: now, LastSeen: now, Expires: now.Add(s.sessions.TTL)}
	if err := k.CreateSession(ctx, rec); err != nil {
		return auth.Session{}, fmt.Errorf("cannot store the session: %v", err)
	}
	return auth.Session{ID: id, CSRF: csrfFor(id), User: user, Role: role, Created: now, LastSeen: now, Expires: rec.Expires}, nil
}

// requestSession is the live session named by the request's cookie.
func (s *Server) requestSession(r *http.Request) (auth.Session, bool) {
	k, ok := s.sessionKeeper()
	if !ok {
		return s.sessions.FromRequest(r)
	}
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil || c.Value == "" {
		return auth.Session{}, false
	}
	ctx, hash := r.Context(), sessionHash(c.Value)
	rec, err := k.SessionByHash(ctx, hash)
	if err != nil {
		if !errors.Is(err, engine.ErrNotFound) {
			s.eng.Log.Warn("cannot look a session up", "err", err)
		}
		return auth.Session{}, false
	}
	now := time.Now()
	if why := s.sessionEnded(rec, now); why != "" {
		detail := ""
		if why != "expired" {
			detail = "session of " + rec.User + " (" + rec.Role + ") ended: " + why
		}
		if err := k.DeleteSession(ctx, hash, detail); err != nil && !errors.Is(err, engine.ErrNotFound) {
			s.eng.Log.Warn("cannot delete an ended session", "user", rec.User, "err", err)
		}
		return auth.Session{}, false
	}
	role, _ := auth.ParseRole(rec.Role) // the stamp checked it is the account's role
	if now.Sub(rec.LastSeen) >= sessionTouchEvery {
		if err := k.TouchSession(ctx, hash, now); err != nil {
			s.eng.Log.Warn("cannot note a session's use", "user", rec.User, "err", err)
		}
	}
	return auth.Session{ID: c.Value, CSRF: csrfFor(c.Value), User: rec.User, Role: role, Created: rec.Created,
		LastSeen: now, Expires: rec.Expires}, true
}

// sessionEnded says why a stored session is over: "" when it is live.
func (s *Server) sessionEnded(rec engine.SessionRecord, now time.Time) string {
	switch {
	case !now.Before(rec.Expires) || now.Sub(rec.LastSeen) >= s.sessions.Idle:
		return "expired"
	case s.users == nil:
		return "login is off"
	case rec.Stamp == "" || rec.Stamp != s.accounts().Stamp(rec.User):
		return "the account was removed, disabled or changed (role or password)"
	}
	return ""
}

// endSession ends a session (logout).
func (s *Server) endSession(ctx context.Context, sess auth.Session) {
	k, ok := s.sessionKeeper()
	if !ok {
		s.sessions.Delete(sess.ID)
		return
	}
	if err := k.DeleteSession(ctx, sessionHash(sess.ID), ""); err != nil && !errors.Is(err, engine.ErrNotFound) {
		s.eng.Log.Warn("cannot delete a session at logout", "user", sess.User, "err", err)
	}
}

// sweepSessions deletes a batch of expired and idle sessions, at most once a minute.
func (s *Server) sweepSessions(ctx context.Context, k engine.SessionKeeper, now time.Time) {
	s.acct.sweepMu.Lock()
	due := now.Sub(s.acct.sweptAt) >= sessionSweepEvery
	if due {
		s.acct.sweptAt = now
	}
	s.acct.sweepMu.Unlock()
	if !due {
		return
	}
	if _, err := k.DeleteEndedSessions(ctx, now, now.Add(-s.sessions.Idle), sessionSweepBatch); err != nil {
		s.eng.Log.Warn("cannot delete ended sessions", "err", err)
	}
}

// sessionView is a live session as GET /api/sessions lists it.
type sessionView struct {
	Ref      string    `json:"ref"` // hex SHA-256 of the session id: DELETE /api/sessions/{ref}
	User     string    `json:"user"`
	Role     string    `json:"role"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	Current  bool      `json:"current,omitempty"` // the session making the request
}

// liveSessions lists the live sessions, newest first.
func (s *Server) liveSessions(r *http.Request) ([]sessionView, error) {
	out := []sessionView{}
	k, ok := s.sessionKeeper()
	if !ok {
		return out, nil
	}
	recs, err := k.Sessions(r.Context())
	if err != nil {
		return nil, err
	}
	cur := ""
	if sess, ok := sessionOf(r); ok && sess.ID != "" {
		h := sessionHash(sess.ID)
		cur = hex.EncodeToString(h[:])
	}
	now := time.Now()
	for _, rec := range recs {
		if s.sessionEnded(rec, now) != "" {
			continue
		}
		ref := hex.EncodeToString(rec.Hash[:])
		out = append(out, sessionView{Ref: ref, User: rec.User, Role: rec.Role, Created: rec.Created,
			LastSeen: rec.LastSeen, Expires: rec.Expires, Current: ref == cur})
	}
	return out, nil
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.liveSessions(r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read the sessions: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// revokeSession ends one session (admin): DELETE /api/sessions/{ref}.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) {
	ref := chi.URLParam(r, "ref")
	b, err := hex.DecodeString(ref)
	if err != nil || len(b) != 32 {
		writeError(w, http.StatusBadRequest, "ref: expected the 64 hex digits GET /api/sessions lists, got "+strconv.Quote(ref))
		return
	}
	k, ok := s.sessionKeeper()
	if !ok {
		writeError(w, http.StatusNotImplemented, "this store keeps no sessions")
		return
	}
	var hash [32]byte
	copy(hash[:], b)
	rec, err := k.SessionByHash(r.Context(), hash)
	if err == nil {
		err = k.DeleteSession(r.Context(), hash, actor(r)+": revoked a session of "+rec.User+" ("+rec.Role+")")
	}
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no session has ref "+ref)
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot revoke the session: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ref": ref, "user": rec.User, "revoked": true})
}

// revokeUserSessions ends every session of a user (admin): DELETE /api/users/{name}/sessions.
func (s *Server) revokeUserSessions(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	n := 0
	if k, ok := s.sessionKeeper(); ok {
		var err error
		n, err = k.DeleteUserSessions(r.Context(), name, actor(r)+": revoked the sessions of "+quoteName(name))
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "cannot revoke the sessions: "+err.Error())
			return
		}
	} else {
		n = s.sessions.DeleteUser(name)
		s.audit(r, engine.Event{Kind: "sessions-revoked", Detail: fmt.Sprintf("%s: revoked the sessions of %s (%d session(s))", actor(r), quoteName(name), n)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": name, "revoked": n})
}
