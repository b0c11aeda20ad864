package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"junction/engine"
	"junction/hl7"
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
	return eng, "http://" + eng.Listeners()[0].BoundAddr() + "/$ingest"
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
		{"transform error", "POST", headers(), strings.Replace(adtA01, "|19800101|M", "|19800101|X", 1), 422, "AE", "routes.yaml:16 (channels[0].transform[1])"},
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
	h := eng.Listeners()[0].Router
	f.Add(adtA01, "Hl7v2", "text/plain", "emergency-care")
	f.Add(strings.ReplaceAll(adtA01, "\r", "\n"), "Hl7v2", "text/plain; charset=utf-8", "emergency-care")
	f.Add("MSH#$*@!#A#B\rPID#1\r", "Hl7v2", "text/plain", "emergency-care")
	f.Add(`{"resourceType":"Patient","id":"1"}`, "FHIR", "text/plain", "emergency-care")
	f.Add("a,b\n\"1\",2\n", "CSV", "text/plain", "emergency-care")
	f.Add("MSH|^~\\&|\xff\r", "Hl7v2", "text/plain", "x")
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
