package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"junction/engine"
)

func ids(ms []engine.MessageSummary) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestSearchAPI(t *testing.T) {
	h := newHarness(t)
	a := h.post(hl7("ADT^A01", "1001", "Smith", ""))
	b := h.post(hl7("ADT^A08", "1002", "Fernández", "OBX|1|TX|||high street clinic\r"))
	c := h.post(hl7("SIU^S12", "1003", "Smith", "")) // FILTERED
	h.waitStatus(b, "downstream", engine.StatusSent)
	h.waitStatus(a, "downstream", engine.StatusSent)
	h.waitIndexed()
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"q=smith", []int64{c, a}},
		{"q=SMITH&status=FILTERED", []int64{c}},
		{"q=fernandez", []int64{b}}, // accents folded
		{"q=%22high+street%22", []int64{b}},
		{"q=smi*", []int64{c, a}},
		{"control_id=1002", []int64{b}},
		{"organisation-code=r0d&control_id=1001", []int64{a}},
		{"source_domain=emergency-care&limit=1", []int64{c}},
		{"destination_status=SENT&destination=downstream", []int64{b, a}},
		{"status=SENT", []int64{b, a}},
		{"since=2000-01-01&until=2100-01-01T00:00:00Z&channel=adt", []int64{c, b, a}},
		{"until=2000-01-01", []int64{}},
	} {
		if got := ids(h.messages(tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
	var page struct {
		Search *engine.SearchStatus
	}
	h.call("GET", "/api/messages?q=smith", nil, 200, &page)
	if page.Search == nil || page.Search.IndexedThrough != c {
		t.Errorf("search status %+v", page.Search)
	}
	for query, want := range map[string]string{
		"q=%5E%5E":                          "q: nothing to search for",
		"destination_status=RECEIVED":       "destination_status: expected one of QUEUED, SENT, ERROR",
		"destination=nope":                  `destination: no destination of any channel is named "nope"`,
		"since=yesterday":                   "since: expected a time like",
		"since=2024-01-02&until=2024-01-01": "until: must be after since",
	} {
		var e struct{ Error string }
		h.call("GET", "/api/messages?"+query, nil, 400, &e)
		if !strings.Contains(e.Error, want) {
			t.Errorf("%s: error %q, want %q", query, e.Error, want)
		}
	}
}

func TestResendAndReprocessAPI(t *testing.T) {
	h := newHarness(t)
	h.rc.down.Store(true)
	id := h.post(hl7("ADT^A01", "2001", "Jones", ""))
	m := h.waitStatus(id, "downstream", engine.StatusError)
	if m.Status != engine.StatusError {
		t.Fatalf("status %s", m.Status)
	}
	// The destination is back: resend to it alone.
	h.rc.down.Store(false)
	var out struct {
		Resent []string
		Edited bool
	}
	h.call("POST", fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destinations": []string{"downstream"}}, 200, &out)
	if !slices.Equal(out.Resent, []string{"downstream"}) || out.Edited {
		t.Fatalf("resend answered %+v", out)
	}
	m = h.waitStatus(id, "downstream", engine.StatusSent)
	if m.Status != engine.StatusSent || len(h.rc.received("|2001|")) != 1 {
		t.Fatalf("after resend: %s, receiver got %d", m.Status, len(h.rc.received("|2001|")))
	}
	if len(m.Events) != 1 || m.Events[0].Kind != "resend" || !strings.Contains(m.Events[0].Detail, "via test") {
		t.Fatalf("events %+v", m.Events)
	}

	// An edited resend sends the edit, and says so.
	edited := strings.Replace(*m.Transformed, "JONES", "JONES-EDITED", 1)
	h.call("POST", fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destinations": []string{"downstream"}, "content": edited}, 200, &out)
	waitFor(t, "the edited content at the receiver", func() (bool, string) {
		return len(h.rc.received("JONES-EDITED")) == 1, fmt.Sprint(len(h.rc.received("")))
	})
	m = h.waitStatus(id, "downstream", engine.StatusSent)
	for _, d := range m.Destinations {
		if d.Name == "downstream" && (d.Edited == nil || !strings.Contains(*d.Edited, "JONES-EDITED") || d.Attempts != 4) {
			t.Fatalf("downstream %+v", d)
		}
	}
	if m.Events[len(m.Events)-1].Kind != "resend-edited" {
		t.Fatalf("events %+v", m.Events)
	}

	// Reprocess: a new message linked to the original.
	var rp struct {
		MessageID  int64 `json:"message_id"`
		OriginalID int64 `json:"original_id"`
		Status     string
	}
	h.call("POST", fmt.Sprintf("/api/messages/%d/reprocess", id), nil, 201, &rp)
	if rp.MessageID <= id || rp.OriginalID != id || rp.Status != "TRANSFORMED" {
		t.Fatalf("reprocess answered %+v", rp)
	}
	nm := h.waitStatus(rp.MessageID, "downstream", engine.StatusSent)
	if nm.OriginalID != id || nm.Raw != m.Raw {
		t.Fatalf("new message %+v", nm.MessageSummary)
	}
	if m = h.message(id); m.Events[len(m.Events)-1].Kind != "reprocess" {
		t.Fatalf("events %+v", m.Events)
	}
	// Reprocess with edited content, e.g. fixing a message that failed to parse.
	bad := h.post("MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|2002|P|2.4\rPID|1||1^^^NHS||Lee^A\r")
	fixed := hl7("ADT^A01", "2003", "Lee", "")
	h.call("POST", fmt.Sprintf("/api/messages/%d/reprocess", bad), map[string]any{"content": fixed}, 201, &rp)
	if nm := h.message(rp.MessageID); nm.ControlID != "2003" || nm.OriginalID != bad {
		t.Fatalf("reprocessed edit %+v", nm.MessageSummary)
	}

	// What cannot be done says why.
	filtered := h.post(hl7("SIU^S12", "2004", "X", ""))
	for _, c := range []struct {
		path   string
		body   any
		status int
		want   string
	}{
		{fmt.Sprintf("/api/messages/%d/resend", filtered), nil, 409, "never routed"},
		{fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destinations": []string{"nope"}}, 409, `not routed to a destination named "nope"`},
		{"/api/messages/99999/resend", nil, 404, "no message has id 99999"},
		{"/api/messages/99999/reprocess", nil, 404, "no message has id 99999"},
		{fmt.Sprintf("/api/messages/%d/resend", id), map[string]any{"destination": "x"}, 400, `unknown field "destination"`},
		{fmt.Sprintf("/api/messages/%d/resend", id), "text", 400, "expected a JSON object"},
		{"/api/messages/x/resend", nil, 400, "positive whole number"},
		{fmt.Sprintf("/api/messages/%d/reprocess", id), map[string]any{"destinations": []string{"x"}}, 400, `unknown field "destinations"`},
		{fmt.Sprintf("/api/messages/%d/reprocess", id), "text", 400, "expected a JSON object"},
		{"/api/messages/0/reprocess", nil, 400, "positive whole number"},
	} {
		var e struct{ Error string }
		h.call("POST", c.path, c.body, c.status, &e)
		if !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: error %q, want %q", c.path, e.Error, c.want)
		}
	}
}

func TestPauseResumeAPI(t *testing.T) {
	h := newHarness(t)
	var qc struct{ Paused bool }
	h.call("POST", "/api/channels/adt/destinations/downstream/pause", nil, 200, &qc)
	if !qc.Paused {
		t.Fatal(qc)
	}
	id := h.post(hl7("ADT^A01", "3001", "Paused", ""))
	// The archive delivers the message; the paused queue keeps it.
	m := h.waitStatus(id, "archive", engine.StatusSent)
	for _, d := range m.Destinations {
		if d.Name == "downstream" && d.Status != engine.StatusQueued {
			t.Fatalf("paused destination: %+v", d)
		}
	}
	var ch channelView
	h.call("GET", "/api/channels/adt", nil, 200, &ch)
	if ch.Section == "" || !strings.Contains(ch.Section, "name: adt") {
		t.Errorf("section %q", ch.Section)
	}
	var dv destinationView
	for _, d := range ch.Destinations {
		if d.Name == "downstream" {
			dv = d
		}
	}
	if !dv.Queue.Paused || dv.Queue.Depth != 1 || dv.Queue.LeaseHolder != h.eng.Node {
		t.Fatalf("downstream %+v", dv)
	}
	if len(ch.Events) != 1 || ch.Events[0].Kind != "pause" {
		t.Fatalf("events %+v", ch.Events)
	}
	if got := h.rc.received("|3001|"); len(got) != 0 {
		t.Fatalf("a paused queue delivered: %v", got)
	}
	h.call("POST", "/api/channels/adt/destinations/downstream/resume", nil, 200, &qc)
	h.waitStatus(id, "downstream", engine.StatusSent)

	var e struct{ Error string }
	h.call("POST", "/api/channels/adt/destinations/nope/pause", nil, 404, &e)
	if !strings.Contains(e.Error, `no destination "nope"`) {
		t.Errorf("error %q", e.Error)
	}
	h.call("GET", "/api/channels/nope", nil, 404, &e)
}

func TestJobsAPI(t *testing.T) {
	h := newHarness(t)
	h.rc.down.Store(true)
	var failed []int64
	for i := 0; i < 12; i++ {
		failed = append(failed, h.post(hl7("ADT^A01", fmt.Sprint(4000+i), "Bulk", "")))
	}
	for _, id := range failed {
		h.waitStatus(id, "downstream", engine.StatusError)
	}
	h.rc.down.Store(false)
	var job JobView
	h.call("POST", "/api/jobs", map[string]any{"action": "resend", "filter": map[string]string{"destination_status": "ERROR", "channel": "adt"},
		"destinations": []string{"downstream"}}, 202, &job)
	if job.ID == 0 || job.Action != "resend" {
		t.Fatalf("job %+v", job)
	}
	waitFor(t, "the job to finish", func() (bool, string) {
		h.call("GET", fmt.Sprintf("/api/jobs/%d", job.ID), nil, 200, &job)
		return job.State == "done", fmt.Sprintf("%+v", job)
	})
	if job.Total != 12 || job.Succeeded != 12 || job.Progress != 100 || job.Failed != 0 {
		t.Fatalf("job %+v", job)
	}
	for _, id := range failed {
		h.waitStatus(id, "downstream", engine.StatusSent)
	}
	// Reprocess job: new messages, listed in the outcome.
	h.call("POST", "/api/jobs", map[string]any{"action": "reprocess", "filter": map[string]string{"control_id": "4003"}}, 202, &job)
	waitFor(t, "the reprocess job", func() (bool, string) {
		h.call("GET", fmt.Sprintf("/api/jobs/%d", job.ID), nil, 200, &job)
		return job.State == "done", fmt.Sprintf("%+v", job)
	})
	if job.Total != 1 || len(job.Created) != 1 || job.Created[0].MessageID != failed[3] {
		t.Fatalf("job %+v", job)
	}
	var list struct{ Jobs []JobView }
	h.call("GET", "/api/jobs", nil, 200, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != job.ID {
		t.Fatalf("jobs %+v", list)
	}
	h.call("POST", fmt.Sprintf("/api/jobs/%d/cancel", job.ID), nil, 200, &job)
	if job.State != "done" {
		t.Errorf("cancelling a finished job changed it: %+v", job)
	}
	for _, c := range []struct {
		body any
		want string
	}{
		{map[string]any{"action": "delete", "filter": map[string]string{}}, `action: expected resend or reprocess, got "delete"`},
		{map[string]any{"action": "resend", "filter": map[string]string{"colour": "red"}}, `filter: unknown key "colour"`},
		{map[string]any{"action": "resend", "filter": map[string]string{"status": "NOPE"}}, "filter.status: expected one of"},
		{map[string]any{"action": "resend", "filter": map[string]string{}, "destinations": []string{"nope"}}, `no destination is named "nope"`},
		{map[string]any{"action": "reprocess", "filter": map[string]string{}, "destinations": []string{"archive"}}, "only a resend job"},
	} {
		var e struct{ Error string }
		h.call("POST", "/api/jobs", c.body, 400, &e)
		if !strings.Contains(e.Error, c.want) {
			t.Errorf("%v: error %q, want %q", c.body, e.Error, c.want)
		}
	}
	var e struct{ Error string }
	h.call("GET", "/api/jobs/999", nil, 404, &e)
}

// Mutating requests from another site are refused.
func TestCrossSiteProtection(t *testing.T) {
	h := newHarness(t)
	id := h.post(hl7("ADT^A01", "5001", "Csrf", ""))
	path := fmt.Sprintf("%s/api/messages/%d/reprocess", h.base, id)
	for name, hdr := range map[string]map[string]string{
		"no header":      {},
		"cross-site":     {"X-Requested-By": "x", "Sec-Fetch-Site": "cross-site"},
		"same-site":      {"X-Requested-By": "x", "Sec-Fetch-Site": "same-site"},
		"foreign origin": {"X-Requested-By": "x", "Origin": "http://evil.example"},
		"opaque origin":  {"X-Requested-By": "x", "Origin": "null"},
	} {
		req, _ := http.NewRequest("POST", path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		if resp.StatusCode != 403 || e.Error == "" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	req, _ := http.NewRequest("POST", path, nil)
	req.Header.Set("X-Requested-By", "x")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", h.base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("same origin: %d", resp.StatusCode)
	}
	h.waitIndexed()
	if n := len(h.messages("control_id=5001")); n != 2 {
		t.Errorf("%d messages: refused requests did something", n)
	}
}

// Every route the server has is in the OpenAPI document, and the document is valid JSON.
func TestOpenAPICoversRoutes(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		OpenAPI string                            `json:"openapi"`
		Paths   map[string]map[string]interface{} `json:"paths"`
	}
	h.call("GET", "/openapi.json", nil, 200, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	s := New(h.eng)
	chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/") {
			return nil
		}
		if _, ok := doc.Paths[route][strings.ToLower(method)]; !ok {
			t.Errorf("%s %s is not in openapi.json", method, route)
		}
		return nil
	})
	for p, ops := range doc.Paths {
		for m := range ops {
			found := false
			chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
				found = found || (route == p && strings.EqualFold(method, m))
				return nil
			})
			if !found {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", m, p)
			}
		}
	}
}

func TestThroughputAndChannelsAPI(t *testing.T) {
	h := newHarness(t)
	id := h.post(hl7("ADT^A01", "6001", "Count", ""))
	h.waitStatus(id, "downstream", engine.StatusSent)
	var tp throughputView
	h.call("GET", "/api/throughput?minutes=60", nil, 200, &tp)
	var recv, sent int64
	for _, p := range tp.Points {
		recv += p.Received
		sent += p.Sent
	}
	if len(tp.Points) == 0 || len(tp.Points) > 60 || recv != 1 || sent != 2 || tp.BucketSeconds < engine.SampleEvery.Seconds() {
		t.Fatalf("throughput %+v", tp)
	}
	var chs struct {
		Channels []channelView
		Search   *engine.SearchStatus
	}
	h.call("GET", "/api/channels", nil, 200, &chs)
	c := chs.Channels[0]
	if c.SinceStart.Received != 1 || c.Stats.Received != 1 || c.Destinations[1].SinceStart.Sent != 1 || chs.Search == nil {
		t.Fatalf("channels %+v", chs)
	}
	var e struct{ Error string }
	h.call("GET", "/api/throughput?minutes=61", nil, 400, &e)
	h.call("GET", "/api/throughput?channel=x", nil, 400, &e)
}

// Pages render, every one with the strict CSP, and message content is escaped.
func TestPagesEscapeContent(t *testing.T) {
	h := newHarness(t)
	id := h.post(hl7("ADT^A01", "7001", "<script>alert(1)</script>", "NTE|1||<img src=x onerror=alert(2)>\r"))
	h.waitStatus(id, "downstream", engine.StatusSent)
	h.waitIndexed()
	for _, path := range []string{"/", "/messages", "/messages?q=script", fmt.Sprintf("/messages/%d", id), "/channels/adt", "/jobs", "/swagger/index.html"} {
		resp, err := http.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		body := string(b)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "style=") {
			t.Errorf("%s: unescaped content or inline style in the page", path)
		}
		if strings.Contains(path, "/messages/") && !strings.Contains(body, "&lt;img src=x onerror=alert(2)&gt;") {
			t.Errorf("%s: the content is not shown escaped", path)
		}
		if strings.Count(body, "<script") != strings.Count(body, "<script src=") {
			t.Errorf("%s: inline script", path)
		}
	}
	for _, path := range []string{"/messages/99999", "/channels/nope", "/jobs/9", "/nothing"} {
		req, _ := http.NewRequest("GET", h.base+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

func TestHL7View(t *testing.T) {
	segs := parseHL7("MSH|^~\\&|A|B\rPID|1||123^^^NHS~456^^^MRN||SMITH&JR^JOHN\rOBX|1\rOBX|2\r")
	if len(segs) != 4 {
		t.Fatalf("%d segments", len(segs))
	}
	paths := func(s hl7Segment) []string {
		var out []string
		for _, f := range s.Fields {
			for _, r := range f.Reps {
				for _, c := range r.Comps {
					for _, sub := range c.Subs {
						out = append(out, sub.Path+"="+sub.Text)
					}
				}
			}
		}
		return out
	}
	if got := strings.Join(paths(segs[0]), " "); got != "MSH-1=| MSH-2=^~\\& MSH-3=A MSH-4=B" {
		t.Errorf("MSH: %s", got)
	}
	want := "PID-1=1 PID-2= PID-3[1].1=123 PID-3[1].2= PID-3[1].3= PID-3[1].4=NHS PID-3[2].1=456 PID-3[2].2= PID-3[2].3= PID-3[2].4=MRN PID-4= PID-5.1.1=SMITH PID-5.1.2=JR PID-5.2=JOHN"
	if got := strings.Join(paths(segs[1]), " "); got != want {
		t.Errorf("PID:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(paths(segs[3]), " "); got != "OBX[2]-1=2" {
		t.Errorf("second OBX: %s", got)
	}
	d, ok := diffLines("a\rb\rc\rd", "a\rB\rc\rd\re")
	var s []string
	for _, l := range d {
		s = append(s, l.Op+l.Text)
	}
	if !ok || strings.Join(s, ",") != " a,-b,+B, c, d,+e" {
		t.Errorf("diff %v %v", s, ok)
	}
	if v := viewContent("FHIR", `{"resourceType":"Patient","id":"1"}`); v.Kind != "json" || !strings.Contains(v.Text, "\n  \"id\": \"1\"") {
		t.Errorf("json view %+v", v)
	}
}
