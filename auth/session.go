package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// SessionCookie is the name of the operator UI's session cookie.
const SessionCookie = "junction_session"

// Session is one logged-in operator.
type Session struct {
	ID       string // the cookie value: 256 random bits, base64url
	CSRF     string // a second random value for forms and API calls that change things
	User     string
	Role     Role
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // Created + TTL: the session ends then, however busy
}

// CheckCSRF says, in constant time, whether token is the session's CSRF token.
func (s *Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// SessionStore keeps sessions in memory: they end TTL after login, or Idle after the last
// request, whichever is first. Sessions are looked up by the SHA-256 of their id, so the
// lookup's timing tells nothing about the ids held. Safe for concurrent use.
type SessionStore struct {
	TTL           time.Duration
	Idle          time.Duration
	SecureCookies bool // mark cookies Secure even on plain HTTP (TLS ends at a proxy in front)

	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]*Session
}

// NewSessionStore makes a store; a zero ttl is 12 hours, a zero idle 30 minutes.
func NewSessionStore(ttl, idle time.Duration) *SessionStore {
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	return &SessionStore{TTL: ttl, Idle: idle, now: time.Now, m: map[[32]byte]*Session{}}
}

// randomToken is n random bytes, base64url.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("drawing a random session id: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create starts a session for a user who has just logged in.
func (st *SessionStore) Create(user string, role Role) (Session, error) {
	id, err := randomToken(32)
	if err != nil {
		return Session{}, err
	}
	csrf, err := randomToken(32)
	if err != nil {
		return Session{}, err
	}
	now := st.now()
	s := &Session{ID: id, CSRF: csrf, User: user, Role: role, Created: now, LastSeen: now, Expires: now.Add(st.TTL)}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked(now)
	st.m[sha256.Sum256([]byte(id))] = s
	return *s, nil
}

// Lookup is the live session with that id, its LastSeen brought to now; an expired or idle
// session is removed and not found.
func (st *SessionStore) Lookup(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	key := sha256.Sum256([]byte(id))
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[key]
	if !ok {
		return Session{}, false
	}
	if st.ended(s, now) {
		delete(st.m, key)
		return Session{}, false
	}
	s.LastSeen = now
	return *s, true
}

func (st *SessionStore) ended(s *Session, now time.Time) bool {
	return !now.Before(s.Expires) || now.Sub(s.LastSeen) >= st.Idle
}

// Delete ends a session (logout).
func (st *SessionStore) Delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, sha256.Sum256([]byte(id)))
}

// DeleteUser ends every session of a user (their password or role changed, or they were
// removed), and says how many there were.
func (st *SessionStore) DeleteUser(name string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for k, s := range st.m {
		if s.User == name {
			delete(st.m, k)
			n++
		}
	}
	return n
}

// Sweep removes ended sessions and says how many sessions remain.
func (st *SessionStore) Sweep() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked(st.now())
	return len(st.m)
}

func (st *SessionStore) sweepLocked(now time.Time) {
	for k, s := range st.m {
		if st.ended(s, now) {
			delete(st.m, k)
		}
	}
}

// FromRequest is the live session named by the request's session cookie.
func (st *SessionStore) FromRequest(r *http.Request) (Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Session{}, false
	}
	return st.Lookup(c.Value)
}

// Cookie is the session cookie to set after login: HttpOnly, SameSite=Strict, Path=/,
// Secure when the request came over TLS (or SecureCookies is set), ending with the session.
func (st *SessionStore) Cookie(r *http.Request, s Session) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    s.ID,
		Path:     "/",
		Expires:  s.Expires,
		MaxAge:   max(1, int(time.Until(s.Expires).Seconds())),
		HttpOnly: true,
		Secure:   r.TLS != nil || st.SecureCookies,
		SameSite: http.SameSiteStrictMode,
	}
}

// ClearCookie is the cookie to set on logout: the same attributes, deleted.
func (st *SessionStore) ClearCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   r.TLS != nil || st.SecureCookies,
		SameSite: http.SameSiteStrictMode,
	}
}
