package ui

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/auth"
	"junction/engine"
)

// newAuthHarnessIn is newAuthHarness on a given folder: its users file is made once, so
// a second harness on the folder is the same Junction started again.
func newAuthHarnessIn(t *testing.T, dir string) *harness {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "users.yaml")); err != nil {
		for name, role := range testUsers {
			if _, err := auth.AddUser(filepath.Join(dir, "users.yaml"), name, role, name+"-secret"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return newHarnessIn(t, dir, "admin:\n  listen: \"127.0.0.1:0\"\n  users_file: users.yaml\n")
}

// cookieCall makes an API request with a session cookie and CSRF token as a browser
// holding them would, and returns the status.
func cookieCall(t *testing.T, base, method, path, cookie, csrf string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	if method != "GET" {
		req.Header.Set("X-Requested-By", "test")
		req.Header.Set(csrfTokenHeader, csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sessionCookie is the client's session cookie for the harness.
func (c *client) sessionCookie() string {
	u, _ := http.NewRequest("GET", c.h.base+"/", nil)
	for _, k := range c.http.Jar.Cookies(u.URL) {
		if k.Name == auth.SessionCookie {
			return k.Value
		}
	}
	c.h.t.Fatal("no session cookie")
	return ""
}

// A session outlives the process: after Junction stops and starts again on the same
// store, the browser's cookie and CSRF token still work; only a hash is in the store.
func TestASessionSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	var cookie, csrf string
	t.Run("before the restart", func(t *testing.T) {
		h := newAuthHarnessIn(t, dir)
		c := h.login("otto")
		cookie, csrf = c.sessionCookie(), c.csrf
		c.call("GET", "/api/channels", nil, 200, nil)
	}) // the harness stops: engine, store and admin server
	h := newAuthHarnessIn(t, dir)
	if got := cookieCall(t, h.base, "GET", "/api/channels", cookie, csrf); got != 200 {
		t.Fatalf("after the restart the session gets %d", got)
	}
	id := h.post(hl7("ADT^A01", "8700", "Restart", ""))
	waitFor(t, "the message to be delivered", func() (bool, string) {
		m, err := h.store.GetMessage(context.Background(), id)
		return err == nil && m.Status == engine.StatusSent, fmt.Sprint(m, err)
	})
	if got := cookieCall(t, h.base, "POST", fmt.Sprintf("/api/messages/%d/resend", id), cookie, csrf); got != 200 {
		t.Errorf("a resend with the session's CSRF token after the restart: %d", got)
	}
	if got := cookieCall(t, h.base, "POST", fmt.Sprintf("/api/messages/%d/resend", id), cookie, "forged"); got != 403 {
		t.Errorf("a resend with a wrong CSRF token: %d", got)
	}
	recs, err := h.store.Sessions(context.Background())
	if err != nil || len(recs) != 1 || recs[0].User != "otto" || recs[0].Hash != sha256.Sum256([]byte(cookie)) {
		t.Fatalf("stored sessions: %+v %v", recs, err)
	}
}

// Logout ends the session; an admin lists the sessions and ends one, or all of a user's
// (in the audit log); nobody else may.
func TestLogoutAndAnAdminRevokeSessions(t *testing.T) {
	h := newAuthHarness(t)
	otto1, otto2, vera, ada := h.login("otto"), h.login("otto"), h.login("vera"), h.login("ada")
	var list struct{ Sessions []sessionView }
	ada.call("GET", "/api/sessions", nil, 200, &list)
	users, current := "", 0
	for _, s := range list.Sessions {
		users += s.User + " "
		if s.Current {
			current++
			if s.User != "ada" {
				t.Errorf("the current session is %s's", s.User)
			}
		}
	}
	if len(list.Sessions) != 4 || users != "ada vera otto otto " || current != 1 {
		t.Fatalf("sessions %s (%d current)", users, current)
	}
	if status, _, _ := otto1.do("GET", "/api/sessions", nil); status != 403 {
		t.Errorf("an operator lists the sessions: %d", status)
	}

	otto1.call("POST", "/api/logout", nil, 200, nil)
	if status, _, _ := otto1.do("GET", "/api/channels", nil); status != 401 {
		t.Errorf("after logout: %d", status)
	}
	otto2.call("GET", "/api/channels", nil, 200, nil)

	var out struct {
		User    string
		Revoked int
	}
	ada.call("DELETE", "/api/users/otto/sessions", nil, 200, &out)
	if out.User != "otto" || out.Revoked != 1 {
		t.Errorf("revoked %+v, want otto's 1 left", out)
	}
	if status, _, _ := otto2.do("GET", "/api/channels", nil); status != 401 {
		t.Errorf("after revocation otto gets %d", status)
	}
	ref := ""
	ada.call("GET", "/api/sessions", nil, 200, &list)
	for _, s := range list.Sessions {
		if s.User == "vera" {
			ref = s.Ref
		}
	}
	ada.call("DELETE", "/api/sessions/"+ref, nil, 200, nil)
	if status, _, _ := vera.do("GET", "/api/channels", nil); status != 401 {
		t.Errorf("after revocation vera gets %d", status)
	}
	ada.call("DELETE", "/api/sessions/"+ref, nil, 404, nil)
	ada.call("DELETE", "/api/sessions/nothex", nil, 400, nil)
	ada.call("GET", "/api/channels", nil, 200, nil)

	var audit struct{ Events []auditEntry }
	ada.call("GET", "/api/audit", nil, 200, &audit)
	kinds := ""
	for _, e := range audit.Events {
		if strings.HasPrefix(e.Kind, "session") {
			kinds += e.Kind + ": " + e.Detail + "\n"
		}
	}
	if !strings.Contains(kinds, "sessions-revoked: by ada (admin) from 127.0.0.1 via test: revoked the sessions of \"otto\" (1 session(s))") ||
		!strings.Contains(kinds, "session-revoked: by ada (admin) from 127.0.0.1 via test: revoked a session of vera (viewer)") {
		t.Errorf("the audit log's session events:\n%s", kinds)
	}
}

// Removing a user from the users file, disabling one, or changing one's role ends their
// sessions without a restart (the file is read again); a disabled user cannot log in.
func TestRemovingDisablingOrChangingAUserInTheUsersFileEndsTheirSessions(t *testing.T) {
	h := newAuthHarness(t)
	vera, otto, ada := h.login("vera"), h.login("otto"), h.login("ada")
	file := h.eng.Admin.UsersFile
	if err := auth.RemoveUser(file, "vera"); err != nil {
		t.Fatal(err)
	}
	if err := auth.SetDisabled(file, "otto", true); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"vera": vera, "otto": otto} {
		waitFor(t, name+"'s session to end", func() (bool, string) {
			status, b, _ := c.do("GET", "/api/channels", nil)
			return status == 401, fmt.Sprintf("%d %s", status, b)
		})
	}
	ada.call("GET", "/api/channels", nil, 200, nil)
	if status, b, _ := h.client().do("POST", "/api/login", map[string]string{"username": "otto", "password": "otto-secret"}); status != 401 {
		t.Errorf("a disabled user logs in: %d %s", status, b)
	}
	recs, _ := h.store.Sessions(context.Background())
	if len(recs) != 1 || recs[0].User != "ada" {
		t.Errorf("left in the store: %+v", recs)
	}
	var audit struct{ Events []auditEntry }
	ada.call("GET", "/api/audit", nil, 200, &audit)
	ended := 0
	for _, e := range audit.Events {
		if e.Kind == "session-revoked" && strings.Contains(e.Detail, "ended: the account was removed, disabled or changed") {
			ended++
		}
	}
	if ended != 2 {
		t.Errorf("%d session ends logged, want vera's and otto's", ended)
	}

	// ada made a viewer: her admin session ends.
	if _, err := auth.AddUser(file, "ada", auth.RoleViewer, "ada-secret"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ada's admin session to end", func() (bool, string) {
		status, b, _ := ada.do("GET", "/api/audit", nil)
		return status == 401, fmt.Sprintf("%d %s", status, b)
	})
}

// Expired and idle sessions are refused, and deleted from the store at the next login.
func TestEndedSessionsAreRefusedAndDeleted(t *testing.T) {
	h := newAuthHarness(t)
	ctx := context.Background()
	now := time.Now()
	stamp := func(name string) string {
		u, err := auth.LoadUsers(h.eng.Admin.UsersFile)
		if err != nil {
			t.Fatal(err)
		}
		return u.Stamp(name)
	}
	add := func(id string, seen, expires time.Time) {
		if err := h.store.CreateSession(ctx, engine.SessionRecord{Hash: sha256.Sum256([]byte(id)), User: "otto", Role: "operator",
			Stamp: stamp("otto"), Created: seen, LastSeen: seen, Expires: expires}); err != nil {
			t.Fatal(err)
		}
	}
	add("live", now, now.Add(time.Hour))
	add("expired", now.Add(-13*time.Hour), now.Add(-time.Hour))
	add("idle", now.Add(-time.Hour), now.Add(time.Hour))
	add("expired-unused", now.Add(-13*time.Hour), now.Add(-time.Hour))
	if got := cookieCall(t, h.base, "GET", "/api/channels", "live", ""); got != 200 {
		t.Fatalf("a live session made in the store: %d", got)
	}
	for _, id := range []string{"expired", "idle"} {
		if got := cookieCall(t, h.base, "GET", "/api/channels", id, ""); got != 401 {
			t.Errorf("the %s session: %d", id, got)
		}
		if _, err := h.store.SessionByHash(ctx, sha256.Sum256([]byte(id))); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the %s session is still stored: %v", id, err)
		}
	}
	h.login("ada")
	if _, err := h.store.SessionByHash(ctx, sha256.Sum256([]byte("expired-unused"))); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an expired session nobody used again is still stored after a login: %v", err)
	}
	if _, err := h.store.SessionByHash(ctx, sha256.Sum256([]byte("live"))); err != nil {
		t.Errorf("the live session went: %v", err)
	}
}
