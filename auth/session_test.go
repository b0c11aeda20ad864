package auth

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// clock is a settable time for the store and limiter tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func TestSessions(t *testing.T) {
	clk := newClock()
	st := NewSessionStore(8*time.Hour, 30*time.Minute)
	st.now = clk.now

	s, err := st.Create("alice", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ID) != 43 || len(s.CSRF) != 43 || s.ID == s.CSRF {
		t.Errorf("id %q csrf %q: expected two different 256-bit base64url values", s.ID, s.CSRF)
	}
	s2, _ := st.Create("alice", RoleAdmin)
	if s2.ID == s.ID {
		t.Error("two sessions with one id")
	}
	got, ok := st.Lookup(s.ID)
	if !ok || got.User != "alice" || got.Role != RoleAdmin {
		t.Fatalf("Lookup: %+v %v", got, ok)
	}
	if !got.CheckCSRF(s.CSRF) || got.CheckCSRF("") || got.CheckCSRF(s.ID) {
		t.Error("CheckCSRF")
	}
	if _, ok := st.Lookup(s.ID + "x"); ok {
		t.Error("a made-up id was found")
	}

	// Idle timeout: each request moves it on; 30 minutes without one ends the session.
	clk.advance(29 * time.Minute)
	if _, ok := st.Lookup(s.ID); !ok {
		t.Fatal("ended before the idle timeout")
	}
	clk.advance(29 * time.Minute)
	if _, ok := st.Lookup(s.ID); !ok {
		t.Fatal("a session in use ended")
	}
	clk.advance(30 * time.Minute)
	if _, ok := st.Lookup(s.ID); ok {
		t.Fatal("alive after 30 idle minutes")
	}

	// Absolute expiry: busy or not, the session ends TTL after login.
	s3, _ := st.Create("bob", RoleViewer)
	for range 16 {
		clk.advance(29 * time.Minute)
		st.Lookup(s3.ID)
	}
	clk.advance(time.Hour)
	if _, ok := st.Lookup(s3.ID); ok {
		t.Error("alive after its TTL")
	}

	// Logout and ending a user's sessions.
	a, _ := st.Create("carol", RoleOperator)
	b, _ := st.Create("carol", RoleOperator)
	c, _ := st.Create("dave", RoleViewer)
	st.Delete(a.ID)
	if _, ok := st.Lookup(a.ID); ok {
		t.Error("alive after Delete")
	}
	if n := st.DeleteUser("carol"); n != 1 {
		t.Errorf("DeleteUser removed %d, expected 1", n)
	}
	if _, ok := st.Lookup(b.ID); ok {
		t.Error("carol's second session survived DeleteUser")
	}
	if n := st.Sweep(); n != 1 {
		t.Errorf("%d sessions after Sweep, expected dave's only", n)
	}
	if _, ok := st.Lookup(c.ID); !ok {
		t.Error("dave's session is gone")
	}
}

func TestSessionCookies(t *testing.T) {
	st := NewSessionStore(0, 0)
	s, _ := st.Create("alice", RoleAdmin)

	plain := httptest.NewRequest("POST", "http://junction/login", nil)
	secure := httptest.NewRequest("POST", "https://junction/login", nil)
	secure.TLS = &tls.ConnectionState{}
	for name, c := range map[string]struct {
		cookie *http.Cookie
		secure bool
	}{
		"plain": {st.Cookie(plain, s), false}, "tls": {st.Cookie(secure, s), true},
	} {
		if c.cookie.Name != SessionCookie || c.cookie.Value != s.ID || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode ||
			c.cookie.Path != "/" || c.cookie.Secure != c.secure || c.cookie.MaxAge < 11*3600 {
			t.Errorf("%s: %+v", name, c.cookie)
		}
	}
	st.SecureCookies = true
	if !st.Cookie(plain, s).Secure || !st.ClearCookie(plain).Secure {
		t.Error("SecureCookies does not mark cookies Secure")
	}
	clear := st.ClearCookie(plain)
	if clear.MaxAge != -1 || clear.Value != "" || !clear.HttpOnly {
		t.Errorf("clear cookie %+v", clear)
	}

	// The cookie round-trips through a real header.
	rec := httptest.NewRecorder()
	http.SetCookie(rec, st.Cookie(secure, s))
	next := httptest.NewRequest("GET", "https://junction/", nil)
	next.Header.Set("Cookie", rec.Result().Cookies()[0].String())
	if got, ok := st.FromRequest(next); !ok || got.User != "alice" {
		t.Errorf("FromRequest: %+v %v", got, ok)
	}
	if _, ok := st.FromRequest(httptest.NewRequest("GET", "/", nil)); ok {
		t.Error("FromRequest without a cookie")
	}
}
