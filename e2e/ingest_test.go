package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// envelopeRoutes is the bundled shape (ed-adt for HL7v2, ed-fhir-csv for FHIR and CSV on
// the same endpoint) with a 1KB limit on ed-adt, and a second endpoint whose only
// channel has a 1KB limit.
const envelopeRoutes = `admin:
  listen: {{ADMIN}}
store:
  path: {{DIR}}/junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
      data_types: [Hl7v2]
      ack: { application: DEX, facility: QVV }
      max_body: 1KB
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    destinations:
      - name: archive
        type: file
        dir: out/ed-adt
  - name: ed-fhir-csv
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
      data_types: [FHIR, CSV]
      ack: { application: DEX, facility: QVV }
    destinations:
      - name: archive
        type: file
        dir: out/ed-fhir-csv
  - name: small
    source:
      type: ingest
      listen: {{INGEST2}}
      domain: emergency-care
      data_types: [Hl7v2]
      ack: { application: DEX, facility: QVV }
      max_body: 1KB
    destinations:
      - name: archive
        type: file
        dir: out/small
`

// big is an ADT over 1KB.
func big(controlID string) string {
	return adt(controlID, "Smith") + "NTE|1||" + strings.Repeat("Lorem ipsum dolor sit amet. ", 60) + "\r"
}

// Story 4: senders who get the envelope wrong are refused AR with a 4xx and told which
// header (or what) is wrong; content that cannot be read is AE; FHIR and CSV are answered
// with OperationOutcomes.
func TestIngestEnvelope(t *testing.T) {
	t.Parallel()
	j := startJunction(t, envelopeRoutes, map[string]string{"INGEST2": freeAddr(t)})
	url := j.IngestURL()
	msg := adt("E2E-ENV-1", "Smith")

	without := func(name string) http.Header {
		h := ingestHeaders("emergency-care", "r0d", "Hl7v2")
		h.Del(name)
		return h
	}
	with := func(name, value string) http.Header {
		h := ingestHeaders("emergency-care", "r0d", "Hl7v2")
		h.Set(name, value)
		return h
	}
	cases := []struct {
		name    string
		method  string
		url     string
		header  http.Header
		body    string
		status  int    // 0: any 4xx
		ref     string // MSA-2
		mention string // the outcome's diagnostics must contain it
	}{
		{name: "missing source-domain", header: without("source-domain"), body: msg, ref: "E2E-ENV-1", mention: "source-domain"},
		{name: "missing organisation-code", header: without("organisation-code"), body: msg, ref: "E2E-ENV-1", mention: "organisation-code"},
		{name: "missing data-type", header: without("data-type"), body: msg, ref: "E2E-ENV-1", mention: "data-type"},
		{name: "missing Content-Type", header: without("Content-Type"), body: msg, ref: "E2E-ENV-1", mention: "Content-Type"},
		{name: "data-type hl7v2 (wrong case)", header: with("data-type", "hl7v2"), body: msg, ref: "E2E-ENV-1", mention: "data-type"},
		{name: "Content-Type application/json", header: with("Content-Type", "application/json"), body: msg, ref: "E2E-ENV-1", mention: "Content-Type"},
		{name: "charset latin1", header: with("Content-Type", "text/plain; charset=latin1"), body: msg, ref: "E2E-ENV-1", mention: "charset"},
		{name: "unknown source-domain", header: with("source-domain", "maternity"), body: msg, ref: "E2E-ENV-1", mention: "source-domain"},
		{name: "GET", method: http.MethodGet, header: ingestHeaders("emergency-care", "r0d", "Hl7v2"), status: http.StatusMethodNotAllowed, mention: "POST"},
		{name: "body over the source-domain's max_body", header: ingestHeaders("emergency-care", "r0d", "Hl7v2"), body: big("E2E-ENV-BIG"), status: http.StatusRequestEntityTooLarge, mention: "1 KB"},
		{name: "body over the endpoint's max_body", url: "http://" + j.Vars["INGEST2"] + "/$ingest", header: ingestHeaders("emergency-care", "r0d", "Hl7v2"), body: big("E2E-ENV-BIG2"), status: http.StatusRequestEntityTooLarge, mention: "1 KB"},
		{name: "empty body", header: ingestHeaders("emergency-care", "r0d", "Hl7v2"), body: "", mention: "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method, u := c.method, c.url
			if method == "" {
				method = http.MethodPost
			}
			if u == "" {
				u = url
			}
			r, err := send(method, u, c.header, c.body)
			if err != nil {
				t.Fatal(err)
			}
			if c.status != 0 && r.Status != c.status || r.Status < 400 || r.Status > 499 {
				want := "4xx"
				if c.status != 0 {
					want = http.StatusText(c.status)
				}
				t.Errorf("status %d, want %s; body %q", r.Status, want, r.Body)
			}
			a := parseACK(t, r.Body)
			if a.Code() != "AR" {
				t.Errorf("MSA-1 = %q, want AR", a.Code())
			}
			if c.ref != "" && a.RefControlID() != c.ref {
				t.Errorf("MSA-2 = %q, want %q", a.RefControlID(), c.ref)
			}
			oo := a.Outcome(t)
			if oo.Issue[0].Severity != "error" || !strings.Contains(oo.Diagnostics(), c.mention) {
				t.Errorf("outcome %s: want an error naming %q", a.Text(), c.mention)
			}
			if r.MessageID() != 0 {
				t.Errorf("a refused request was given message id %d", r.MessageID())
			}
			if method == http.MethodGet && r.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST (got %q)", r.Header.Get("Allow"))
			}
		})
	}
	if n := len(j.Messages(t, "")); n != 0 {
		t.Errorf("requests refused at the envelope were stored: %d messages", n)
	}

	unreadable := []struct{ name, body, ref string }{
		{"truncated MSH", "MSH|^~\rPID|1||x\r", ""},
		{"no MSH", "PID|1||9434765919^^^NHS^NH||Smith^John\rPV1|1|I\r", ""},
		{"bad segment name", "MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01|E2E-BAD-SEG|P|2.4\rpid|1\r", "E2E-BAD-SEG"},
		// MSH-9 (message type) and MSH-10 (control id) are required: without them the
		// message cannot be routed by type, nor the ACK matched by the sender.
		{"MSH without MSH-9 and MSH-10", "MSH|^~\\&\rPID|1||9434765919^^^NHS^NH||Smith^John\r", ""},
	}
	for _, c := range unreadable {
		t.Run("unparseable HL7: "+c.name, func(t *testing.T) {
			r := postHL7(t, url, "emergency-care", c.body)
			if r.Status < 400 || r.Status > 499 {
				t.Errorf("status %d, want 4xx; body %q", r.Status, r.Body)
			}
			a := parseACK(t, r.Body)
			if a.Code() != "AE" {
				t.Errorf("MSA-1 = %q, want AE", a.Code())
			}
			if a.RefControlID() != c.ref {
				t.Errorf("MSA-2 = %q, want %q", a.RefControlID(), c.ref)
			}
			if oo := a.Outcome(t); oo.Issue[0].Severity != "error" {
				t.Errorf("outcome severity %q, want error", oo.Issue[0].Severity)
			}
			id := r.MessageID()
			if id <= 0 {
				t.Fatal("an unreadable message should still be logged (no Junction-Message-Id)")
			}
			m := j.Message(t, id)
			if m.Status != "ERROR" || m.Raw != c.body || m.Error == "" {
				t.Errorf("logged as %s with raw %q and error %q; want ERROR, the body as sent and a reason", m.Status, m.Raw, m.Error)
			}
		})
	}

	t.Run("FHIR with broken JSON", func(t *testing.T) {
		// The stray x is on line 3, column 9.
		body := "{\n  \"resourceType\": \"Patient\",\n  \"id\": x\n}\n"
		r := post(t, url, ingestHeaders("emergency-care", "r0d", "FHIR"), body)
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("status %d, want 4xx", r.Status)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("Content-Type %q, want application/fhir+json", ct)
		}
		oo := parseOutcome(t, r.Body)
		if oo.Issue[0].Severity != "error" {
			t.Errorf("severity %q, want error", oo.Issue[0].Severity)
		}
		if d := oo.Diagnostics(); !strings.Contains(d, "line 3, col 9") {
			t.Errorf("diagnostics %q: want the position of the stray x, line 3, col 9", d)
		}
		if id := r.MessageID(); id <= 0 {
			t.Error("no Junction-Message-Id")
		} else if m := j.Message(t, id); m.Status != "ERROR" || m.Channel != "ed-fhir-csv" {
			t.Errorf("FHIR message %s in %s, want ERROR in ed-fhir-csv", m.Status, m.Channel)
		}
	})

	t.Run("FHIR accepted", func(t *testing.T) {
		body := `{"resourceType":"Patient","id":"e2e-p1","name":[{"family":"Smith","given":["John"]}]}`
		r := post(t, url, ingestHeaders("emergency-care", "r0d", "FHIR"), body)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200; %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("Content-Type %q, want application/fhir+json", ct)
		}
		if oo := parseOutcome(t, r.Body); oo.Issue[0].Severity != "information" {
			t.Errorf("severity %q, want information", oo.Issue[0].Severity)
		}
		m := j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		if m.ControlID != "e2e-p1" || m.DataType != "FHIR" {
			t.Errorf("control id %q data type %q, want e2e-p1 FHIR", m.ControlID, m.DataType)
		}
	})

	t.Run("CSV accepted", func(t *testing.T) {
		body := "nhs_number,arrival,department\n9434765919,2024-02-13T14:49:00Z,ED\n9876543210,2024-02-13T15:02:00Z,UTC\n"
		h := ingestHeaders("emergency-care", "r0d", "CSV")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		r := post(t, url, h, body)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200; %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("Content-Type %q, want application/fhir+json", ct)
		}
		if oo := parseOutcome(t, r.Body); oo.Issue[0].Severity != "information" {
			t.Errorf("severity %q, want information", oo.Issue[0].Severity)
		}
		m := j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		if m.Raw != body || m.Channel != "ed-fhir-csv" {
			t.Errorf("CSV stored as %q in %s", m.Raw, m.Channel)
		}
	})

	t.Run("CSV with a ragged row", func(t *testing.T) {
		body := "nhs_number,arrival\n9434765919\n"
		r := post(t, url, ingestHeaders("emergency-care", "r0d", "CSV"), body)
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("status %d, want 4xx", r.Status)
		}
		oo := parseOutcome(t, r.Body)
		if oo.Issue[0].Severity != "error" || !strings.Contains(oo.Diagnostics(), "line 2") {
			t.Errorf("outcome %q: want an error at line 2", r.Body)
		}
	})
}
