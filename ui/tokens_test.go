package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"junction/engine"
)

// bearerDo makes an API request with an API token only: no cookie, no CSRF token and no
// X-Requested-By.
func (h *harness) bearerDo(token, method, path string, body string) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) newToken(name, role string) string {
	c.h.t.Helper()
	var out struct{ Name, Role, Token string }
	c.call("POST", "/api/tokens", map[string]string{"name": name, "role": role}, 201, &out)
	if out.Name != name || out.Role != role || !strings.HasPrefix(out.Token, "jct_") || len(out.Token) != 4+43 {
		c.h.t.Fatalf("token %+v", out)
	}
	return out.Token
}

// waitDest waits for a message's delivery to dest to reach want.
func (c *client) waitDest(id int64, dest string, want engine.Status) {
	c.h.t.Helper()
	waitFor(c.h.t, fmt.Sprintf("message %d to %s %s", id, dest, want), func() (bool, string) {
		var m engine.MessageDetail
		c.call("GET", fmt.Sprintf("/api/messages/%d", id), nil, 200, &m)
		for _, d := range m.Destinations {
			if d.Name == dest {
				return d.Status == want, string(d.Status)
			}
		}
		return false, "no delivery"
	})
}

func TestAPITokens(t *testing.T) {
	h := newAuthHarness(t)
	id := h.post(hl7("ADT^A01", "8001", "Token", ""))
	ada, otto := h.login("ada"), h.login("otto")
	ada.waitDest(id, "downstream", engine.StatusSent)

	// Only an admin manages tokens.
	if status, b, _ := otto.do("POST", "/api/tokens", map[string]string{"name": "x", "role": "viewer"}); status != 403 {
		t.Fatalf("operator creates a token: %d %s", status, b)
	}
	if status, b, _ := otto.do("GET", "/api/tokens", nil); status != 403 {
		t.Fatalf("operator lists tokens: %d %s", status, b)
	}
	for _, bad := range []map[string]string{{"name": "", "role": "viewer"}, {"name": "a b", "role": "viewer"}, {"name": "ok", "role": "root"}} {
		if status, b, _ := ada.do("POST", "/api/tokens", bad); status != 400 {
			t.Errorf("bad token %v: %d %s", bad, status, b)
		}
	}
	viewer := ada.newToken("dash", "viewer")
	operator := ada.newToken("ci", "operator")
	if status, b, _ := ada.do("POST", "/api/tokens", map[string]string{"name": "ci", "role": "viewer"}); status != 409 {
		t.Fatalf("duplicate token: %d %s", status, b)
	}

	// A viewer token reads but cannot resend; an operator token resends, with no CSRF
	// token or X-Requested-By.
	resend := fmt.Sprintf("/api/messages/%d/resend", id)
	if status, b := h.bearerDo(viewer, "GET", "/api/messages/"+fmt.Sprint(id), ""); status != 200 {
		t.Fatalf("viewer token GET: %d %s", status, b)
	}
	if status, b := h.bearerDo(viewer, "POST", resend, "{}"); status != 403 {
		t.Fatalf("viewer token resend: %d %s", status, b)
	}
	if status, b := h.bearerDo(operator, "POST", resend, "{}"); status != 200 {
		t.Fatalf("operator token resend: %d %s", status, b)
	}
	var m engine.MessageDetail
	ada.call("GET", fmt.Sprintf("/api/messages/%d", id), nil, 200, &m)
	found := false
	for _, ev := range m.Events {
		found = found || (ev.Kind == "resend" && strings.Contains(ev.Detail, "by token:ci (operator)"))
	}
	if !found {
		t.Fatalf("resend by token not logged with its name: %+v", m.Events)
	}
	// Unknown or malformed tokens are 401.
	for _, bad := range []string{"jct_nope", "nope", ""} {
		if status, b := h.bearerDo(bad, "GET", "/api/channels", ""); status != 401 {
			t.Errorf("token %q: %d %s", bad, status, b)
		}
	}

	// The list has names, roles and last use, never secrets.
	status, b, _ := ada.do("GET", "/api/tokens", nil)
	if status != 200 || strings.Contains(string(b), viewer) || strings.Contains(string(b), operator) || strings.Contains(string(b), "jct_") ||
		strings.Contains(string(b), "hash") {
		t.Fatalf("token list: %d %s", status, b)
	}
	var list struct{ Tokens []engine.APIToken }
	json.Unmarshal(b, &list)
	if len(list.Tokens) != 2 || list.Tokens[0].Name != "ci" || list.Tokens[0].Role != "operator" || list.Tokens[0].LastUsed == nil ||
		list.Tokens[0].CreatedBy != "ada" || list.Tokens[1].Name != "dash" {
		t.Fatalf("tokens %+v", list.Tokens)
	}

	// Revoked: 401 at once.
	ada.call("DELETE", "/api/tokens/ci", nil, 200, nil)
	if status, b := h.bearerDo(operator, "GET", "/api/channels", ""); status != 401 {
		t.Fatalf("revoked token: %d %s", status, b)
	}
	if status, b, _ := ada.do("DELETE", "/api/tokens/ci", nil); status != 404 {
		t.Fatalf("revoke twice: %d %s", status, b)
	}
	// An admin token manages tokens too; creation and revocation are in the audit log.
	admin := ada.newToken("root", "admin")
	if status, b := h.bearerDo(admin, "DELETE", "/api/tokens/dash", ""); status != 200 {
		t.Fatalf("admin token revokes: %d %s", status, b)
	}
	var audit struct{ Events []auditEntry }
	ada.call("GET", "/api/audit", nil, 200, &audit)
	kinds := map[string]string{}
	for _, ev := range audit.Events {
		if _, ok := kinds[ev.Kind]; !ok {
			kinds[ev.Kind] = ev.User
		}
	}
	if kinds["token-created"] != "ada" || kinds["token-revoked"] != "token:root" {
		t.Fatalf("audit %+v", audit.Events)
	}
}

func TestRemoveMessage(t *testing.T) {
	h := newAuthHarness(t)
	ada, otto, vera := h.login("ada"), h.login("otto"), h.login("vera")
	sent := h.post(hl7("ADT^A01", "8101", "Gone", ""))
	ada.waitDest(sent, "downstream", engine.StatusSent)
	path := fmt.Sprintf("/api/messages/%d", sent)
	for _, c := range []*client{vera, otto} {
		if status, b, _ := c.do("DELETE", path, nil); status != 403 {
			t.Fatalf("non-admin removes: %d %s", status, b)
		}
	}
	var out struct {
		MessageID int64 `json:"message_id"`
		Removed   bool
	}
	ada.call("DELETE", path, nil, 200, &out)
	if out.MessageID != sent || !out.Removed {
		t.Fatalf("%+v", out)
	}
	if status, _, _ := ada.do("GET", path, nil); status != 404 {
		t.Fatalf("removed message still there: %d", status)
	}
	if status, _, _ := ada.do("DELETE", path, nil); status != 404 {
		t.Fatalf("removed twice: %d", status)
	}

	// A queued delivery: refused without force.
	otto.call("POST", "/api/channels/adt/destinations/downstream/pause", nil, 200, nil)
	queued := h.post(hl7("ADT^A01", "8102", "Queued", ""))
	ada.waitDest(queued, "archive", engine.StatusSent)
	qpath := fmt.Sprintf("/api/messages/%d", queued)
	if status, b, _ := ada.do("DELETE", qpath, nil); status != 409 || !strings.Contains(errorOf(b), "downstream") {
		t.Fatalf("queued removal: %d %s", status, b)
	}
	ada.call("GET", qpath, nil, 200, nil)
	ada.call("DELETE", qpath+"?force=true", nil, 200, nil)
	var ch struct{ Destinations []destinationView }
	ada.call("GET", "/api/channels/adt", nil, 200, &ch)
	for _, d := range ch.Destinations {
		if d.Counts.Queued != 0 {
			t.Fatalf("queue depth after removal: %+v", d)
		}
	}

	var audit struct{ Events []auditEntry }
	ada.call("GET", "/api/audit", nil, 200, &audit)
	n := 0
	for _, ev := range audit.Events {
		if ev.Kind == "remove" {
			n++
			if ev.User != "ada" || (ev.MessageID != sent && ev.MessageID != queued) {
				t.Errorf("remove event %+v", ev)
			}
			if ev.MessageID == queued && !strings.Contains(ev.Detail, "forced") {
				t.Errorf("forced removal not said: %+v", ev)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d remove events in %+v", n, audit.Events)
	}

	// The message page offers the button to admins only.
	page := func(c *client) string {
		req, _ := http.NewRequest("GET", h.base+fmt.Sprintf("/messages/%d", h.post(hl7("ADT^A01", "8103", "Page", ""))), nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if !strings.Contains(page(ada), `id="remove"`) || strings.Contains(page(otto), `id="remove"`) {
		t.Fatal("the remove button is for admins only")
	}
}

func TestConfigEvents(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ef := h.store
	last := func(kind string) (engine.Event, error) { return ef.LastEvent(ctx, kind) }
	if err := h.eng.RecordConfig(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := last("config-loaded")
	if err != nil || !strings.Contains(ev.Detail, "sha256="+h.eng.ConfigHash()) || !strings.Contains(ev.Detail, "channels=adt") {
		t.Fatalf("config-loaded %+v %v", ev, err)
	}
	if _, err := last("config-changed"); err == nil {
		t.Fatal("config-changed on the first load")
	}
	// Same file again: no change; a different one: config-changed with both hashes.
	if err := h.eng.RecordConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := last("config-changed"); err == nil {
		t.Fatal("config-changed with the same file")
	}
	old := h.eng.ConfigHash()
	if _, err := h.eng.ReloadBytes(ctx, append(slices.Clone(h.eng.ConfigText()), "# edited\n"...), "test"); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.RecordConfig(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err = last("config-changed")
	if err != nil || !strings.Contains(ev.Detail, "sha256="+h.eng.ConfigHash()) || !strings.Contains(ev.Detail, "was sha256="+old) {
		t.Fatalf("config-changed %+v %v", ev, err)
	}
	var audit struct{ Events []auditEntry }
	h.call("GET", "/api/audit", nil, 200, &audit)
	if len(audit.Events) != 5 || audit.Events[0].Kind != "config-loaded" || audit.Events[1].Kind != "config-changed" || audit.Events[2].Kind != "config-reloaded" {
		t.Fatalf("audit %+v", audit.Events)
	}
}
