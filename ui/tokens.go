package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"junction/auth"
	"junction/engine"
)

// API tokens. An admin creates a named token with a role (POST /api/tokens); its secret,
// "jct_" and 256 random bits in base64url, is shown once. The store keeps only its SHA-256
// (a secret of 256 random bits needs no slow hash), so tokens are created and revoked at
// run time through the store's single writer, revocation holds on every node sharing the
// store, and last use is kept. A request with "Authorization: Bearer jct_…" is
// authenticated as "token:NAME" with the token's role. It carries no cookie, so a
// cross-site page cannot make a browser send it: the CSRF token and X-Requested-By are not
// needed with it.

// tokenPrefix starts every API token's secret.
const tokenPrefix = "jct_"

// touchEvery bounds how often a token's last use is written.
const touchEvery = time.Minute

var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// bearer is the token of an "Authorization: Bearer …" header, "" when there is none.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

func (s *Server) tokenStore() (engine.TokenStore, bool) {
	ts := s.eng.Store()
	return ts, ts != nil
}

// tokenSession authenticates a bearer token: the session of a token request, made up.
func (s *Server) tokenSession(ctx context.Context, secret string) (auth.Session, error) {
	ts, ok := s.tokenStore()
	if !ok || !strings.HasPrefix(secret, tokenPrefix) {
		return auth.Session{}, engine.ErrNotFound
	}
	t, err := ts.TokenByHash(ctx, sha256.Sum256([]byte(secret)))
	if err != nil {
		return auth.Session{}, err
	}
	role, err := auth.ParseRole(t.Role)
	if err != nil {
		return auth.Session{}, err
	}
	now := time.Now()
	if t.LastUsed == nil || now.Sub(*t.LastUsed) > touchEvery {
		if err := ts.TouchToken(ctx, t.Name, now); err != nil {
			s.eng.Log.Warn("cannot note an API token's use", "token", t.Name, "err", err)
		}
	}
	return auth.Session{User: "token:" + t.Name, Role: role, Created: t.Created, LastSeen: now}, nil
}

// tokenBody is the body of POST /api/tokens.
type tokenBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	ts, ok := s.tokenStore()
	if !ok {
		writeError(w, http.StatusNotImplemented, "this store keeps no API tokens")
		return
	}
	var body tokenBody
	if err := readBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !tokenNamePattern.MatchString(body.Name) {
		writeError(w, http.StatusBadRequest, "name: expected 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
		return
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, "role: "+err.Error())
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot draw a token: "+err.Error())
		return
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	by := actor(r)
	t := engine.APIToken{Name: body.Name, Role: string(role), Created: time.Now(), CreatedBy: userIn(by)}
	err = ts.CreateToken(r.Context(), t, sha256.Sum256([]byte(secret)), by+": created API token "+body.Name+" ("+string(role)+")")
	if errors.Is(err, engine.ErrDuplicate) {
		writeError(w, http.StatusConflict, "a token named "+strconv.Quote(body.Name)+" exists: revoke it first (DELETE /api/tokens/"+body.Name+")")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot store the token: "+err.Error())
		return
	}
	w.Header().Set("Location", "/api/tokens/"+body.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"name": t.Name, "role": t.Role, "created": t.Created.UTC().Format(time.RFC3339),
		"token": secret, "note": "the token is shown this once: keep it safe; send it as Authorization: Bearer TOKEN"})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, ok := s.tokenStore()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"tokens": []engine.APIToken{}})
		return
	}
	list, err := ts.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read the tokens: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	ts, ok := s.tokenStore()
	name := chi.URLParam(r, "name")
	if !ok {
		writeError(w, http.StatusNotFound, "no token is named "+strconv.Quote(name))
		return
	}
	err := ts.DeleteToken(r.Context(), name, actor(r)+": revoked API token "+quoteName(name))
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no token is named "+strconv.Quote(name))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot revoke the token: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "revoked": true})
}

// removeMessage deletes a message (admin only); ?force=true even with queued deliveries.
func (s *Server) removeMessage(w http.ResponseWriter, r *http.Request) {
	id, err := messageID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	force := false
	if f := r.URL.Query().Get("force"); f != "" {
		if force, err = strconv.ParseBool(f); err != nil {
			writeError(w, http.StatusBadRequest, "force: expected true or false, got "+strconv.Quote(f))
			return
		}
	}
	if err := s.eng.RemoveMessage(r.Context(), id, force, actor(r)); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message_id": id, "removed": true, "forced": force})
}
