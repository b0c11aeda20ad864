package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"

	"junction/auth"
	"junction/engine"
)

// Operator accounts of the login tests: name → role; every password is name + "-secret".
var testUsers = map[string]auth.Role{"vera": auth.RoleViewer, "otto": auth.RoleOperator, "ada": auth.RoleAdmin}

// newAuthHarness runs the harness with admin.users_file naming a users file (relative to
// routes.yaml) holding testUsers.
func newAuthHarness(t testing.TB) *harness {
	t.Helper()
	dir := t.TempDir()
	for name, role := range testUsers {
		if _, err := auth.AddUser(filepath.Join(dir, "users.yaml"), name, role, name+"-secret"); err != nil {
			t.Fatal(err)
		}
	}
	return newHarnessIn(t, dir, "admin:\n  listen: \"127.0.0.1:0\"\n  users_file: users.yaml\n")
}

// client is one API user: a cookie jar and, once logged in, the session's CSRF token.
type client struct {
	h    *harness
	http *http.Client
	csrf string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{h: h, http: &http.Client{Jar: jar}}
}

// do makes an API request and returns the status, the answer and the response.
func (c *client) do(method, path string, body any) (int, []byte, *http.Response) {
	c.h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.h.base+path, rd)
	if method != "GET" {
		req.Header.Set("X-Requested-By", "test")
		if c.csrf != "" {
			req.Header.Set(csrfTokenHeader, c.csrf)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp
}

// call fails the test unless the status is want, and decodes the answer into out.
func (c *client) call(method, path string, body any, want int, out any) {
	c.h.t.Helper()
	status, b, _ := c.do(method, path, body)
	if status != want {
		c.h.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// login logs in as name with its test password.
func (h *harness) login(name string) *client {
	h.t.Helper()
	c := h.client()
	var out struct {
		User, Role string
		CSRF       string `json:"csrf_token"`
	}
	c.call("POST", "/api/login", map[string]string{"username": name, "password": name + "-secret"}, 200, &out)
	if out.User != name || out.Role != string(testUsers[name]) || out.CSRF == "" {
		h.t.Fatalf("login %s: %+v", name, out)
	}
	c.csrf = out.CSRF
	return c
}

func errorOf(b []byte) string {
	var e struct{ Error string }
	json.Unmarshal(b, &e)
	return e.Error
}

func TestLoginRequired(t *testing.T) {
	h := newAuthHarness(t)
	id := h.post(hl7("ADT^A01", "7001", "Anon", ""))
	anon := h.client()
	for _, p := range []string{"/api/channels", "/api/messages", fmt.Sprintf("/api/messages/%d", id), "/api/audit", "/api/jobs", "/openapi.json"} {
		status, b, resp := anon.do("GET", p, nil)
		if status != 401 || errorOf(b) == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("anonymous GET %s: %d %s", p, status, b)
		}
	}
	if status, b, _ := anon.do("POST", fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{}); status != 401 {
		t.Errorf("anonymous resend: %d %s", status, b)
	}
	// A page redirects to the login page.
	req, _ := http.NewRequest("GET", h.base+"/messages?q=x", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next=%2Fmessages%3Fq%3Dx" {
		t.Errorf("anonymous page: %d Location %q", resp.StatusCode, loc)
	}
	// The login page itself and the static files are open.
	if status, _, _ := anon.do("GET", "/login", nil); status != 200 {
		t.Errorf("login page: %d", status)
	}
	if status, _, _ := anon.do("GET", "/static/app.js", nil); status != 200 {
		t.Errorf("static: %d", status)
	}
}

func TestLogin(t *testing.T) {
	h := newAuthHarness(t)
	c := h.client()
	status, b, resp := c.do("POST", "/api/login", map[string]string{"username": "otto", "password": "otto-secret"})
	if status != 200 {
		t.Fatalf("login: %d %s", status, b)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.Path != "/" {
		t.Fatalf("session cookie %+v (plain HTTP: not Secure)", cookie)
	}
	if strings.Contains(string(b), "otto-secret") {
		t.Errorf("the answer holds the password: %s", b)
	}
	// Unknown user and wrong password: the same answer.
	_, b1, _ := h.client().do("POST", "/api/login", map[string]string{"username": "nobody", "password": "otto-secret"})
	s2, b2, _ := h.client().do("POST", "/api/login", map[string]string{"username": "otto", "password": "wrong-password"})
	if s2 != 401 || string(b1) != string(b2) || errorOf(b2) == "" {
		t.Errorf("unknown user %s; wrong password %d %s", b1, s2, b2)
	}
	// The audit log has the logins, good and bad, and never a password.
	var audit struct{ Events []auditEntry }
	h.login("ada").call("GET", "/api/audit", nil, 200, &audit)
	kinds := map[string][]string{}
	for _, ev := range audit.Events {
		kinds[ev.Kind] = append(kinds[ev.Kind], ev.User)
		if strings.Contains(ev.Detail, "secret") || strings.Contains(ev.Detail, "wrong-password") {
			t.Errorf("a password in the audit log: %+v", ev)
		}
	}
	if got := strings.Join(kinds["login"], ","); got != "ada,otto" {
		t.Errorf("logins %q in %+v", got, audit.Events)
	}
	if got := strings.Join(kinds["login-failed"], ","); got != "otto,nobody" {
		t.Errorf("failed logins %q in %+v", got, audit.Events)
	}
}

func TestLoginRateLimit(t *testing.T) {
	h := newAuthHarness(t)
	c := h.client()
	for i := 0; i < 5; i++ {
		if status, b, _ := c.do("POST", "/api/login", map[string]string{"username": "otto", "password": "guess"}); status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, status, b)
		}
	}
	status, b, resp := c.do("POST", "/api/login", map[string]string{"username": "otto", "password": "otto-secret"})
	if status != 429 || resp.Header.Get("Retry-After") == "" || errorOf(b) == "" {
		t.Fatalf("after 5 failures from this address, even the right password: %d Retry-After %q %s", status, resp.Header.Get("Retry-After"), b)
	}
	// Another account from the same address is limited apart (the address as a whole
	// after twice as many failures).
	if status, b, _ := c.do("POST", "/api/login", map[string]string{"username": "ada", "password": "ada-secret"}); status != 200 {
		t.Errorf("same address, other user: %d %s, want 200", status, b)
	}
}

func TestRoles(t *testing.T) {
	h := newAuthHarness(t)
	id := h.post(hl7("ADT^A01", "7101", "Roles", ""))
	vera, otto, ada := h.login("vera"), h.login("otto"), h.login("ada")
	msg := fmt.Sprintf("/api/messages/%d", id)
	waitFor(t, "delivery", func() (bool, string) {
		var m engine.MessageDetail
		ada.call("GET", msg, nil, 200, &m)
		return m.Status == engine.StatusSent, string(m.Status)
	})

	// viewer: reads, but neither acts nor reads the audit log.
	vera.call("GET", "/api/channels", nil, 200, nil)
	vera.call("GET", msg, nil, 200, nil)
	vera.call("GET", "/api/messages", nil, 200, nil)
	for _, p := range []string{msg + "/resend", msg + "/reprocess", "/api/channels/adt/destinations/downstream/pause", "/api/jobs"} {
		status, b, _ := vera.do("POST", p, map[string]any{})
		if status != 403 || !strings.Contains(errorOf(b), "operator role") {
			t.Errorf("viewer POST %s: %d %s", p, status, b)
		}
	}
	if status, b, _ := vera.do("GET", "/api/audit", nil); status != 403 || !strings.Contains(errorOf(b), "admin role") {
		t.Errorf("viewer audit: %d %s", status, b)
	}

	// operator: acts, but does not read the audit log.
	otto.call("POST", msg+"/resend", map[string]any{"destinations": []string{"archive"}}, 200, nil)
	if status, b, _ := otto.do("GET", "/api/audit", nil); status != 403 || !strings.Contains(errorOf(b), "admin role") {
		t.Errorf("operator audit: %d %s", status, b)
	}
	otto.call("POST", "/api/channels/adt/destinations/downstream/pause", nil, 200, nil)
	otto.call("POST", "/api/channels/adt/destinations/downstream/resume", nil, 200, nil)
	var j JobView
	otto.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"control_id": "7101"}, "destinations": []string{"archive"}}, 202, &j)

	// Without the session's CSRF token a mutating call is refused.
	noToken := *otto
	noToken.csrf = ""
	if status, b, _ := noToken.do("POST", msg+"/resend", map[string]any{}); status != 403 {
		t.Errorf("resend without the CSRF token: %d %s", status, b)
	}

	// The message's operator actions name the operator.
	var m engine.MessageDetail
	vera.call("GET", msg, nil, 200, &m)
	if len(m.Events) == 0 || m.Events[0].Kind != "resend" || userIn(m.Events[0].Detail) != "otto" || !strings.Contains(m.Events[0].Detail, "by otto (operator)") {
		t.Errorf("events %+v", m.Events)
	}

	// admin: the audit log, with who did what.
	var audit struct{ Events []auditEntry }
	ada.call("GET", "/api/audit?limit=1000", nil, 200, &audit)
	found := map[string]string{}
	for _, ev := range audit.Events {
		if _, ok := found[ev.Kind]; !ok {
			found[ev.Kind] = ev.User
		}
	}
	for _, kind := range []string{"resend", "pause", "resume", "job", "login"} {
		if u, ok := found[kind]; !ok || (kind != "login" && u != "otto") {
			t.Errorf("audit %s: %q (%v) in %+v", kind, u, ok, audit.Events)
		}
	}
	var resend *auditEntry
	for i, ev := range audit.Events {
		if ev.Kind == "resend" && ev.MessageID == id && ev.Destination == "archive" && ev.User == "otto" {
			resend = &audit.Events[i]
		}
	}
	if resend == nil {
		t.Errorf("no resend of message %d by otto in %+v", id, audit.Events)
	}
	ada.call("GET", "/audit", nil, 200, nil)
	if status, _, _ := otto.do("GET", "/audit", nil); status != 403 {
		t.Errorf("operator audit page: %d", status)
	}
}

func TestLogout(t *testing.T) {
	h := newAuthHarness(t)
	otto := h.login("otto")
	otto.call("GET", "/api/channels", nil, 200, nil)
	_, _, resp := otto.do("POST", "/api/logout", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	cleared := false
	for _, ck := range resp.Cookies() {
		cleared = cleared || (ck.Name == auth.SessionCookie && ck.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("logout does not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	if status, _, _ := otto.do("GET", "/api/channels", nil); status != 401 {
		t.Errorf("after logout: %d", status)
	}
	// The old cookie, kept by someone, no longer works either.
	old := h.login("otto")
	u, _ := http.NewRequest("GET", h.base+"/", nil)
	cookies := old.http.Jar.Cookies(u.URL)
	old.call("POST", "/api/logout", nil, 200, nil)
	req, _ := http.NewRequest("GET", h.base+"/api/channels", nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a logged-out session's cookie: %d", resp.StatusCode)
	}
}

func TestUserInDetail(t *testing.T) {
	for detail, want := range map[string]string{
		"by otto (operator) from 127.0.0.1 via junction-ui":                                    "otto",
		"as message 7 (SENT); by ada (admin) from ::1 via x":                                   "ada",
		`by "no body" from 127.0.0.1: unknown user or wrong password`:                          "no body",
		"from 127.0.0.1 via test":                                                              "",
		"bulk job 3 by otto (operator) from 127.0.0.1 via junction-ui":                         "otto",
		"by otto (operator) from 1.2.3.4 via x: started bulk job 1: resend {\"q\":\"by eve\"}": "otto",
	} {
		if got := userIn(detail); got != want {
			t.Errorf("userIn(%q) = %q, want %q", detail, got, want)
		}
	}
}
