package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"junction/engine"
	"junction/hl7"
	"junction/ui"
)

const testRoutes = `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [Hl7v2]
      ack: { application: DEX, facility: QVV }
      max_body: 4KB
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-8") != "X" || setBody(1/0)'
    destinations:
      - { name: archive, type: file, dir: out }
  - name: ed-other
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [FHIR, CSV]
    destinations:
      - { name: archive, type: file, dir: out2 }
`

const adtA01 = "MSH|^~\\&|SENDER|FAC|DEX|QVV|20240213144932||ADT^A01|8457239|P|2.4\r" +
	"PID|1||0000000000^^^NHS^NH||Fernández^José||19800101|M\r" +
	"PV1|1|E\r"

// startEngine runs the routes above on loopback with a real SQLite store.
func startEngine(t testing.TB) (*engine.Engine, string) {
	eng := runRoutes(t, testRoutes)
	return eng, "http://" + eng.BoundAddr("HTTP") + "/$ingest"
}

func post(t *testing.T, url, method string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func headers(overrides ...string) map[string]string {
	h := map[string]string{"Content-Type": "text/plain", "source-domain": "emergency-care", "organisation-code": "r0d", "data-type": "Hl7v2"}
	for i := 0; i+1 < len(overrides); i += 2 {
		if overrides[i+1] == "" {
			delete(h, overrides[i])
		} else {
			h[overrides[i]] = overrides[i+1]
		}
	}
	return h
}

var ackRe = regexp.MustCompile(`^MSH\|\^~\\&\|DEX\|QVV\|([^|]*)\|([^|]*)\|\d{14}\|\|ACK\|[0-9a-f-]{36}\|P\|2\.4\rMSA\|(A[AER])\|([^|]*)\|(.*)\r$`)

func TestIngestAnswers(t *testing.T) {
	_, url := startEngine(t)
	big := adtA01 + "NTE|1||" + strings.Repeat("x", 5000) + "\r"
	cases := []struct {
		name       string
		method     string
		hdr        map[string]string
		body       string
		status     int
		code       string // ACK code; "" when an OperationOutcome is expected
		diagnostic string
	}{
		{"accepted", "POST", headers(), adtA01, 200, "AA", "accepted"},
		{"charset utf-8 accepted", "POST", headers("Content-Type", "text/plain; charset=UTF-8"), adtA01, 200, "AA", "accepted"},
		{"LF line ends accepted", "POST", headers(), strings.ReplaceAll(adtA01, "\r", "\n"), 200, "AA", "accepted"},
		{"filtered is AA", "POST", headers(), strings.Replace(adtA01, "ADT^A01", "SIU^S12", 1), 200, "AA", "not routed: filtered by"},
		{"transform error", "POST", headers(), strings.Replace(adtA01, "|19800101|M", "|19800101|X", 1), 422, "AE", "could not be processed by channel ed-adt's transform; the operator has the details under message id"},
		{"unparseable", "POST", headers(), "MSH|^~\\&|A\rP\r", 400, "AE", "segment 2"},
		{"missing source-domain", "POST", headers("source-domain", ""), adtA01, 400, "AR", "missing header source-domain"},
		{"missing organisation-code", "POST", headers("organisation-code", ""), adtA01, 400, "AR", "missing header organisation-code"},
		{"missing data-type", "POST", headers("data-type", ""), adtA01, 400, "AR", "missing header data-type"},
		{"data-type case", "POST", headers("data-type", "hl7v2"), adtA01, 400, "AR", "header data-type must be exactly Hl7v2, FHIR or CSV (capitalisation matters), got 'hl7v2'"},
		{"content type", "POST", headers("Content-Type", "application/hl7-v2"), adtA01, 415, "AR", "header Content-Type must be text/plain"},
		{"no content type", "POST", headers("Content-Type", ""), adtA01, 415, "AR", "missing header Content-Type"},
		{"charset", "POST", headers("Content-Type", "text/plain; charset=iso-8859-1"), adtA01, 415, "AR", "charset must be utf-8"},
		{"unknown domain", "POST", headers("source-domain", "maternity"), adtA01, 404, "AR", "header source-domain: 'maternity' is not a source-domain"},
		{"method", "GET", headers(), "", 405, "AR", "method GET is not allowed"},
		{"too big", "POST", headers(), big, 413, "AR", "larger than the 4 KB limit"},
		{"empty", "POST", headers(), "  \r\n", 400, "AR", "the request body is empty"},
		{"FHIR broken JSON", "POST", headers("data-type", "FHIR"), "{\n \"resourceType\": ", 400, "", "line 2"},
		{"FHIR accepted", "POST", headers("data-type", "FHIR"), `{"resourceType":"Patient","id":"x"}`, 200, "", "accepted"},
		{"CSV accepted", "POST", headers("data-type", "CSV"), "a,b\n1,2\n", 200, "", "accepted"},
		{"CSV ragged", "POST", headers("data-type", "CSV"), "a,b\n1,2,3\n", 400, "", "CSV: line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := post(t, url, c.method, c.hdr, c.body)
			if status != c.status {
				t.Errorf("status = %d, want %d; body %q", status, c.status, body)
			}
			var ooText string
			if c.code != "" {
				m := ackRe.FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("not an ACK of the expected form: %q", body)
				}
				if m[3] != c.code {
					t.Errorf("ACK code = %s, want %s", m[3], c.code)
				}
				if c.hdr["source-domain"] != m[1] || c.hdr["organisation-code"] != m[2] {
					t.Errorf("MSH-5/6 = %q/%q, want the request's headers", m[1], m[2])
				}
				if strings.HasPrefix(c.body, "MSH|^~\\&|SENDER") && m[4] != "8457239" {
					t.Errorf("MSA-2 = %q, want the message's MSH-10", m[4])
				}
				ooText = hl7.Unescape(m[5], hl7.DefaultDelimiters)
			} else {
				if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
					t.Errorf("Content-Type = %q", ct)
				}
				ooText = body
			}
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			if err := json.Unmarshal([]byte(ooText), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
				t.Fatalf("not an OperationOutcome: %q (%v)", ooText, err)
			}
			if !strings.Contains(oo.Issue[0].Diagnostics, c.diagnostic) {
				t.Errorf("diagnostics = %q, want it to contain %q", oo.Issue[0].Diagnostics, c.diagnostic)
			}
			wantSeverity := "error"
			if status == 200 {
				wantSeverity = "information"
			}
			if oo.Issue[0].Severity != wantSeverity {
				t.Errorf("severity = %q, want %q", oo.Issue[0].Severity, wantSeverity)
			}
			if status == 200 && hdr.Get("Junction-Message-Id") == "" {
				t.Error("no Junction-Message-Id header on an accepted message")
			}
		})
	}
}

// FuzzIngest throws arbitrary bodies and header values at the $ingest handler: it must
// never panic, always answer with a well-formed ACK or OperationOutcome, and every 200 must
// be a message that is in the store.
func FuzzIngest(f *testing.F) {
	eng, _ := startEngine(f)
	h := firstHTTP(eng).router
	f.Add(adtA01, "Hl7v2", "text/plain", "emergency-care")
	f.Add(strings.ReplaceAll(adtA01, "\r", "\n"), "Hl7v2", "text/plain; charset=utf-8", "emergency-care")
	f.Add("MSH#$*@!#A#B\rPID#1\r", "Hl7v2", "text/plain", "emergency-care")
	f.Add(`{"resourceType":"Patient","id":"1"}`, "FHIR", "text/plain", "emergency-care")
	f.Add("a,b\n\"1\",2\n", "CSV", "text/plain", "emergency-care")
	f.Add("MSH|^~\\&|\xff\r", "Hl7v2", "text/plain", "x")
	f.Add("BHS|^~\\&\r"+adtA01+adtA01+"BTS|2\r", "Hl7v2", "text/plain", "emergency-care")
	f.Fuzz(func(t *testing.T, body, dataType, contentType, domain string) {
		req := httptest.NewRequest("POST", "/$ingest", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("data-type", dataType)
		req.Header.Set("source-domain", domain)
		req.Header.Set("organisation-code", "r0d")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Body.Bytes()
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/fhir+json") {
			var oo map[string]any
			if err := json.Unmarshal(resp, &oo); err != nil || oo["resourceType"] != "OperationOutcome" {
				t.Fatalf("bad OperationOutcome %q", resp)
			}
		} else if bytes.HasPrefix(resp, []byte("BHS")) || bytes.HasPrefix(resp, []byte("FHS")) {
			checkBatchAnswer(t, eng, rec.Code, resp, rec.Header().Get("Junction-Message-Id"))
			return
		} else {
			code, _, _, err := hl7.ParseACK(resp)
			if err != nil {
				t.Fatalf("bad ACK %q: %v", resp, err)
			}
			if (rec.Code == 200) != (code == "AA") {
				t.Fatalf("status %d with ACK %s", rec.Code, code)
			}
		}
		if rec.Code == 200 {
			id := rec.Header().Get("Junction-Message-Id")
			var n int64
			for _, c := range id {
				n = n*10 + int64(c-'0')
			}
			if _, err := eng.Store().GetMessage(context.Background(), n); err != nil {
				t.Fatalf("accepted message %q not in the store: %v", id, err)
			}
		}
	})
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// When the store cannot take the message, the sender is told to try again later: AE, 503.
func TestIngestStoreDownIsRetryable(t *testing.T) {
	eng, url := startEngine(t)
	if err := eng.Store().Close(); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := post(t, url, "POST", headers(), adtA01)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q, want 503 with Retry-After", status, hdr.Get("Retry-After"))
	}
	m := ackRe.FindStringSubmatch(body)
	if m == nil || m[3] != "AE" || m[4] != "8457239" || !strings.Contains(m[5], "send it again later") {
		t.Fatalf("ACK = %q, want AE for 8457239 saying to send again later", body)
	}
	if hdr.Get("Junction-Message-Id") != "" {
		t.Error("a message that was not stored has a message id")
	}
}

// Channels whose scripts compile but fail on a message at run time, one per
// source-domain; the line each script is on is found in the text.
const failingRoutes = `store:
  path: junction.db
channels:
  - name: tx-int
    source: { type: ingest, listen: "127.0.0.1:0", domain: int }
    transform:
      - 'set("PID-8", int(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out }
  - name: tx-missing
    source: { type: ingest, listen: "127.0.0.1:0", domain: missing }
    transform:
      - 'set("PID-5.1", upper(split(get("PID-29.1"), "^")[1]))'
    destinations:
      - { name: archive, type: file, dir: out }
  - name: filter-int
    source: { type: ingest, listen: "127.0.0.1:0", domain: filter }
    filter:
      - 'int(get("PID-5.1")) > 0'
    destinations:
      - { name: archive, type: file, dir: out }
  - name: fhir-nil
    source: { type: ingest, listen: "127.0.0.1:0", domain: fhir, data_types: [FHIR] }
    transform:
      - 'setBody(upper(resource.meta.source))'
    destinations:
      - { name: archive, type: file, dir: out }
`

func TestAScriptFailingAtRunTimeTellsTheSenderWhereTheOperatorLooksButNotTheScript(t *testing.T) {
	eng := runRoutes(t, failingRoutes)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	api := httptest.NewServer(ui.New(eng))
	t.Cleanup(api.Close)
	lines := strings.Split(failingRoutes, "\n")
	cases := []struct {
		domain, dataType, body, step, script string
	}{
		{"int", "Hl7v2", adtA01, "transform", `int(get("PID-5.1"))`},
		{"missing", "Hl7v2", adtA01, "transform", `split(get("PID-29.1"), "^")[1]`},
		{"filter", "Hl7v2", adtA01, "filter", `int(get("PID-5.1")) > 0`},
		{"fhir", "FHIR", `{"resourceType":"Patient","id":"p1"}`, "transform", `resource.meta.source`},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			line := 0
			for i, l := range lines {
				if strings.Contains(l, c.script) {
					line = i + 1
					break
				}
			}
			status, hdr, body := post(t, url, "POST", headers("source-domain", c.domain, "data-type", c.dataType), c.body)
			id := hdr.Get("Junction-Message-Id")
			if status != http.StatusUnprocessableEntity || id == "" {
				t.Fatalf("status %d, message id %q; want 422 with an id; body %q", status, id, body)
			}
			code, text := answer(t, c.dataType, body)
			if code != "AE" {
				t.Errorf("ACK code %s, want AE", code)
			}
			want := fmt.Sprintf("could not be processed by channel %s's %s; the operator has the details under message id %s", channelOf(eng, c.domain), c.step, id)
			if !strings.Contains(text, want) {
				t.Errorf("answer %q does not say %q", text, want)
			}
			for _, leak := range []string{"routes.yaml", c.script, "get(", "channels[", fmt.Sprintf(":%d", line)} {
				if strings.Contains(text, leak) {
					t.Errorf("answer %q gives the sender %q", text, leak)
				}
			}
			m := getAPIMessage(t, api.URL, id)
			where := fmt.Sprintf("routes.yaml:%d (", line)
			if m.Status != "ERROR" || !strings.Contains(m.Error, where) || !strings.Contains(m.Error, "."+c.step+"[") {
				t.Errorf("stored message: status %s, error %q; want ERROR naming %s and the %s", m.Status, m.Error, where, c.step)
			}
		})
	}
}

// answer is the ACK code ("AE", or "" for an OperationOutcome) and the diagnostics of an
// $ingest answer.
func answer(t *testing.T, dataType, body string) (code, diagnostics string) {
	t.Helper()
	text := body
	if dataType == "Hl7v2" {
		var err error
		if code, _, text, err = hl7.ParseACK([]byte(body)); err != nil {
			t.Fatalf("not an ACK: %q (%v)", body, err)
		}
	}
	var oo struct {
		Issue []struct{ Diagnostics string }
	}
	if err := json.Unmarshal([]byte(text), &oo); err != nil || len(oo.Issue) != 1 {
		t.Fatalf("not an OperationOutcome with one issue: %q (%v)", text, err)
	}
	if code == "" {
		code = "AE" // an OperationOutcome answers as AE does
	}
	return code, oo.Issue[0].Diagnostics
}

// channelOf names the channel taking source-domain domain.
func channelOf(eng *engine.Engine, domain string) string {
	for _, ch := range eng.Channels() {
		if strings.Contains(ch.SourceInfo, "source-domain="+domain+" ") {
			return ch.Name
		}
	}
	return ""
}

// getAPIMessage reads a message as operators see it: GET /api/messages/{id} of the admin API.
func getAPIMessage(t *testing.T, base, id string) engine.MessageDetail {
	t.Helper()
	resp, err := http.Get(base + "/api/messages/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m engine.MessageDetail
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/messages/%s: %d %v", id, resp.StatusCode, err)
	}
	return m
}

func TestWhatIsWrongWithTheSendersOwnContentIsStillToldToTheSender(t *testing.T) {
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: adt-fhir
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [Hl7v2, FHIR] }
    transform:
      - 'get("MSH-9.1") == "" || setBody(toFHIR())'
    destinations:
      - { name: archive, type: file, dir: out }
`)
	url := "http://" + eng.BoundAddr("HTTP") + "/$ingest"
	cases := []struct {
		name, dataType, body string
		status               int
		want                 string
	}{
		{"HL7v2 that does not parse", "Hl7v2", "MSH|^~\\&|A\rP\r", 400, "segment 2"},
		{"a message toFHIR() cannot convert (no patient)", "Hl7v2", withoutPID(adtA01), 422, `PID: segment is missing`},
		{"FHIR JSON broken at a line and column", "FHIR", "{\n \"resourceType\": ", 400, "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := post(t, url, "POST", headers("data-type", c.dataType), c.body)
			_, text := answer(t, c.dataType, body)
			if status != c.status || !strings.Contains(text, c.want) {
				t.Errorf("status %d, answer %q; want %d naming %q", status, text, c.status, c.want)
			}
			if strings.Contains(text, "routes.yaml") || strings.Contains(text, "toFHIR") {
				t.Errorf("answer %q names the script", text)
			}
		})
	}
}

// withoutPID is msg without its PID segment: a message toFHIR() refuses.
func withoutPID(msg string) string {
	var keep []string
	for _, seg := range strings.Split(msg, "\r") {
		if !strings.HasPrefix(seg, "PID|") {
			keep = append(keep, seg)
		}
	}
	return strings.Join(keep, "\r")
}

// budgetRoutes take bodies up to 64 KB and hold one such body's charge at a time.
const budgetRoutes = `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      max_body: 64KB
      limits: { max_memory: 1MB }
    destinations:
      - { name: archive, type: file, dir: out }
`

// largeADT is an ADT of about size bytes, with control id id.
func largeADT(id string, size int) string {
	msg := strings.Replace(adtA01, "8457239", id, 1)
	return msg + "NTE|1||" + strings.Repeat("x", size-len(msg)-9) + "\r"
}

func TestRequestsBeyondTheMemoryBudgetGet503WithRetryAfterAndSequentialOnesAllSucceed(t *testing.T) {
	eng := runRoutes(t, budgetRoutes)
	l := firstHTTP(eng)
	url := "http://" + l.BoundAddr() + "/$ingest"
	if got := l.Memory().Budget; got != 1<<20 {
		t.Fatalf("budget %d, want 1 MB", got)
	}
	// A sender whose 60 KB body never fully arrives holds 16 × 60 KB of the budget.
	slow, err := net.Dial("tcp", l.BoundAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /$ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nsource-domain: emergency-care\r\norganisation-code: r0d\r\ndata-type: Hl7v2\r\nContent-Length: 60000\r\n\r\nMSH|")
	waitFor(t, "the slow request's charge", func() bool { return l.Memory().InUse == 16*60000 })

	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, hdr, body := post(t, url, "POST", headers(), largeADT(fmt.Sprintf("BIG-%d", i), 60000))
			statuses[i] = status
			code, text := answer(t, "Hl7v2", body)
			if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || code != "AE" || !strings.Contains(text, "memory budget of 1 MB") {
				t.Errorf("request %d while the budget is held: %d, Retry-After %q, %s %q; want 503 with Retry-After, AE naming the budget", i, status, hdr.Get("Retry-After"), code, text)
			}
		}()
	}
	wg.Wait()
	slow.Close()
	waitFor(t, "the slow request's charge to be given back", func() bool { return l.Memory().InUse == 0 })

	for i := range 5 {
		status, _, body := post(t, url, "POST", headers(), largeADT(fmt.Sprintf("SEQ-%d", i), 60000))
		if status != http.StatusOK {
			t.Errorf("sequential request %d: %d %q, want 200", i, status, body)
		}
	}
	if m := l.Memory(); m.Peak > m.Budget || m.Refused != int64(len(statuses)) {
		t.Errorf("memory %+v: want a peak within the budget and %d refused", m, len(statuses))
	}
}

func TestManyConcurrentLargeBodiesAreServedOrAskedToRetryWithinTheBudget(t *testing.T) {
	eng := runRoutes(t, budgetRoutes)
	l := firstHTTP(eng)
	url := "http://" + l.BoundAddr() + "/$ingest"
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, hdr, body := post(t, url, "POST", headers(), largeADT(fmt.Sprintf("C-%d", i), 60000))
			switch {
			case status == http.StatusOK:
				mu.Lock()
				accepted++
				mu.Unlock()
			case status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "":
				t.Errorf("request %d: %d (Retry-After %q) %q; want 200, or 503 with Retry-After", i, status, hdr.Get("Retry-After"), body)
			}
		}()
	}
	wg.Wait()
	m := l.Memory()
	if m.Peak > m.Budget || m.InUse != 0 || accepted+int(m.Refused) != 32 || accepted == 0 {
		t.Errorf("memory %+v after %d accepted of 32: want a peak within the budget, nothing left charged, every refusal counted", m, accepted)
	}
	if status, _, _ := post(t, url, "POST", headers(), adtA01); status != http.StatusOK {
		t.Errorf("after the flood: status %d, want 200", status)
	}
}

func TestAMemoryBudgetTooSmallForOneLargestBodyIsAConfigError(t *testing.T) {
	cases := []struct{ name, source, want string }{
		{"on the source that sets it", `max_body: 1MB
      limits: { max_memory: 8MB }`, "routes.yaml:10: channels[0].source.limits.max_memory: 8 MB cannot hold one request of the listener's largest max_body, 1 MB (each is charged 16 × its body: 16 MB)"},
		{"on a source sharing the listener", `max_body: 1MB
  - name: other
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: other
      max_body: 512KB
      limits: { max_memory: 15MB }`, "routes.yaml:16: channels[1].source.limits.max_memory: 15 MB cannot hold one request of the listener's largest max_body, 1 MB"},
		{"on a later source with a larger body", `limits: { max_memory: 1MB }
      max_body: 64KB
  - name: other
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: other
      max_body: 65KB`, "routes.yaml:16: channels[1].source.max_body: max_body 65 KB needs 1040 KB of the listener's memory budget (16 × the body), more than its limits.max_memory of 1 MB ("},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "routes.yaml")
			os.WriteFile(file, []byte(`store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      `+c.source+`
`), 0o644)
			_, err := engine.Load(file)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "raise max_memory or lower max_body") {
				t.Errorf("Load: %v; want an error containing %q", err, c.want)
			}
		})
	}
}

func TestABundleWhoseTransformFailsAtRunTimeGetsAnOutcomeWithoutTheScript(t *testing.T) {
	pkgs, _ := filepath.Abs("../fhir/packages")
	eng := runRoutes(t, fmt.Sprintf(`store:
  path: junction.db
channels:
  - name: care-gateway
    source:
      type: fhir-bundle
      listen: 127.0.0.1:0
      base: /fhir
      profiles: [http://gateway.kl.dk/1.0/StructureDefinition/klgateway-care-delivery-report]
      packages:
        - "%[1]s/hl7.fhir.dk.kl.gateway.care#1.0.4.tgz"
        - "%[1]s/dk.fhir.ig.kl.common.caresocial#0.7.0.tgz"
        - "%[1]s/hl7.fhir.dk.core#1.1.0.tgz"
      auth: none
    transform:
      - 'setBody(upper(resource.nothing.here))'
    destinations:
      - { name: archive, type: file, dir: out }
`, pkgs))
	base := "http://" + eng.BoundAddr("HTTP") + "/fhir"
	status, _, body := request(t, "PUT", base+"/Bundle/"+seedID, "application/fhir+json", seedBundle(t))
	oo := parseOutcome(t, body)
	if status != http.StatusUnprocessableEntity || len(oo.Issue) != 1 {
		t.Fatalf("status %d, outcome %q; want 422 with one issue", status, body)
	}
	d := oo.Issue[0].Diagnostics
	if !strings.Contains(d, "could not be processed by channel care-gateway's transform; the operator has the details under message id") {
		t.Errorf("diagnostics %q do not say where the operator looks", d)
	}
	for _, leak := range []string{"routes.yaml", "nothing", "channels[", "upper"} {
		if strings.Contains(d, leak) {
			t.Errorf("diagnostics %q give the sender %q", d, leak)
		}
	}
	msgs, err := eng.Store().ListMessages(context.Background(), engine.MessageFilter{Channel: "care-gateway"})
	if err != nil || len(msgs) != 1 || msgs[0].Status != engine.StatusError || !strings.Contains(msgs[0].Error, "routes.yaml:16 (channels[0].transform[0])") {
		t.Errorf("stored messages %+v (%v): want one ERROR naming routes.yaml:16", msgs, err)
	}
}
