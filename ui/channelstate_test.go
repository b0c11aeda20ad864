package ui

import (
	"strings"
	"testing"

	"junction/engine"
)

func TestAnOperatorStopsAndStartsAChannelThroughTheAPIAndAViewerCannot(t *testing.T) {
	h := newAuthHarness(t)
	vera, otto, ada := h.login("vera"), h.login("otto"), h.login("ada")

	for _, a := range []string{"stop", "start", "pause"} {
		status, b, _ := vera.do("POST", "/api/channels/adt/"+a, nil)
		if status != 403 || !strings.Contains(errorOf(b), "operator role") {
			t.Errorf("viewer POST %s: %d %s", a, status, b)
		}
	}
	noToken := *otto
	noToken.csrf = ""
	if status, b, _ := noToken.do("POST", "/api/channels/adt/stop", nil); status != 403 {
		t.Errorf("stop without the CSRF token: %d %s", status, b)
	}
	if status, b, _ := otto.do("POST", "/api/channels/nope/stop", nil); status != 404 {
		t.Errorf("stop of an unknown channel: %d %s", status, b)
	}
	if st := h.eng.ChannelState("adt"); st != engine.ChannelStarted {
		t.Fatalf("refused requests changed the state to %s", st)
	}

	var out struct{ Channel, State string }
	otto.call("POST", "/api/channels/adt/stop", nil, 200, &out)
	if out.Channel != "adt" || out.State != engine.ChannelStopped {
		t.Fatalf("stop answered %+v", out)
	}
	var list struct {
		Channels []struct{ Name, State string }
	}
	vera.call("GET", "/api/channels", nil, 200, &list)
	if len(list.Channels) != 1 || list.Channels[0].State != "stopped" {
		t.Fatalf("GET /api/channels: %+v", list)
	}

	// The UI shows the state to everyone and the buttons to operators only.
	_, page, _ := otto.do("GET", "/channels/adt", nil)
	if !strings.Contains(string(page), `class="state stopped"`) || !strings.Contains(string(page), `data-action="start"`) {
		t.Errorf("operator's channel page lacks the state or the start button:\n%s", page)
	}
	_, page, _ = vera.do("GET", "/", nil)
	if !strings.Contains(string(page), `class="state stopped"`) || strings.Contains(string(page), "channel-action") {
		t.Errorf("viewer's dashboard: state missing or buttons shown:\n%s", page)
	}

	otto.call("POST", "/api/channels/adt/start", nil, 200, &out)
	if h.eng.ChannelState("adt") != engine.ChannelStarted {
		t.Fatal("start did not start the channel")
	}

	// Both are in the audit trail, with who did them.
	var audit struct{ Events []engine.Event }
	ada.call("GET", "/api/audit", nil, 200, &audit)
	found := map[string]bool{}
	for _, ev := range audit.Events {
		if ev.Channel == "adt" && strings.Contains(ev.Detail, "otto") {
			found[ev.Kind] = true
		}
	}
	if !found["channel-stopped"] || !found["channel-started"] {
		t.Errorf("audit trail: %+v", audit.Events)
	}
}
