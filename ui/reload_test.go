package ui

import (
	"os"
	"strings"
	"testing"
)

func TestAnAdminReloadsRoutesThroughTheAPIAndSeesWhatChangedOrEveryMistakeAndAnOperatorCannot(t *testing.T) {
	h := newAuthHarness(t)
	otto, ada := h.login("otto"), h.login("ada")
	text, err := os.ReadFile(h.eng.File)
	if err != nil {
		t.Fatal(err)
	}
	if status, b, _ := otto.do("POST", "/api/reload", nil); status != 403 || !strings.Contains(errorOf(b), "admin role") {
		t.Fatalf("operator reload: %d %s", status, b)
	}

	// A mistake: 422 with FILE:LINE, and nothing changes.
	bad := strings.Replace(string(text), "channels:", "channels:\n  - name: broken\n    source: { type: nope }", 1)
	os.WriteFile(h.eng.File, []byte(bad), 0o644)
	var refused struct {
		Error  string
		Errors []struct {
			File    string
			Line    int
			Message string
		}
	}
	ada.call("POST", "/api/reload", nil, 422, &refused)
	if len(refused.Errors) != 1 || refused.Errors[0].File != h.eng.File || refused.Errors[0].Line == 0 ||
		!strings.Contains(refused.Errors[0].Message, `unknown source type "nope"`) || !strings.Contains(refused.Error, "nothing was reloaded") {
		t.Fatalf("422 answer %+v", refused)
	}
	if h.eng.Channel("broken") != nil {
		t.Fatal("a refused reload added a channel")
	}

	// A good change: 200 with the changed line, and it is in the audit trail.
	good := strings.Replace(string(text), "channels:", "channels:\n  - name: extra\n    source: { type: ingest, listen: \"127.0.0.1:0\", domain: extra, auth: none }", 1)
	os.WriteFile(h.eng.File, []byte(good), 0o644)
	var rep struct{ Added, Changes, Errors []string }
	ada.call("POST", "/api/reload", nil, 200, &rep)
	if len(rep.Added) != 1 || rep.Added[0] != "extra" || len(rep.Errors) != 0 || !strings.Contains(strings.Join(rep.Changes, "\n"), "channel extra: added") {
		t.Fatalf("200 answer %+v", rep)
	}
	if h.eng.Channel("extra") == nil {
		t.Fatal("the added channel is not running")
	}
	var audit struct {
		Events []struct{ Kind, Detail string }
	}
	ada.call("GET", "/api/audit", nil, 200, &audit)
	if len(audit.Events) == 0 || audit.Events[0].Kind != "config-reloaded" || !strings.Contains(audit.Events[0].Detail, "by ada") {
		t.Fatalf("audit %+v", audit.Events)
	}
	// The dashboard offers the button to admins only.
	if _, page, _ := ada.do("GET", "/", nil); !strings.Contains(string(page), `id="reload-config"`) {
		t.Error("the admin's dashboard lacks the reload button")
	}
	if _, page, _ := otto.do("GET", "/", nil); strings.Contains(string(page), `id="reload-config"`) {
		t.Error("the operator's dashboard shows the reload button")
	}
}
