package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// edRoutes is the bundled ed-adt channel's shape (the same filter and transform, ACKs from
// DEX/QVV) with a file destination writing one file per message.
const edRoutes = `admin:
  listen: {{ADMIN}}
store:
  path: data/junction.db
channels:
  - name: ed-adt
    description: Emergency care HL7v2 ADT and ORU messages from trusts
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
      data_types: [Hl7v2]
      ack: { application: DEX, facility: QVV }
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - name: archive
        type: file
        dir: out/ed-adt
`

// bundledRoutes is the repository's routes.yaml with its listen addresses made templates.
// Its store and output folders are relative, so they land in the test's folder.
func bundledRoutes(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Its addresses and paths are ${NAME:-default} references: take the defaults.
	s := regexp.MustCompile(`\$\{[A-Z0-9_]+:-([^}]*)\}`).ReplaceAllString(string(b), "$1")
	for _, want := range []string{"listen: 127.0.0.1:8090", "listen: 127.0.0.1:8000", "listen: 127.0.0.1:8080", "- fhir/packages/"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the bundled routes.yaml no longer has %q: update this test", want)
		}
	}
	s = strings.ReplaceAll(s, "127.0.0.1:8090", "{{ADMIN}}")
	s = strings.ReplaceAll(s, "127.0.0.1:8000", "{{INGEST}}")
	s = strings.ReplaceAll(s, "127.0.0.1:8080", "{{GATEWAY}}")
	// The MLLP listener (channel lab-mllp) gets a free port of its own.
	s = strings.ReplaceAll(s, "listen: 127.0.0.1:2575", "listen: "+freeAddr(t))
	// The Care Gateway's destinations (make run's demo receiver) get a free port where
	// nothing listens unless the test starts something there (see receiverAddr).
	s = strings.ReplaceAll(s, "http://127.0.0.1:9090/", "http://"+freeAddr(t)+"/")
	// The FHIR packages stay in the repository; the test's folder has none.
	s = strings.ReplaceAll(s, "- fhir/packages/", "- "+filepath.Join(repoRoot, "fhir", "packages")+"/")
	return s
}

// lineOf is the 1-based line of the first line of text containing sub.
func lineOf(t *testing.T, text, sub string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the text", sub)
	return 0
}

var (
	ackMSHRe = regexp.MustCompile(`^MSH\|\^~\\&\|DEX\|QVV\|emergency-care\|r0d\|\d{14}\|\|ACK\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\|P\|2\.4$`)
)

// checkACK checks the ACK's MSH against what the Healthcare Exchange's DEX/QVV sends,
// and its MSA code and reference.
func checkACK(t *testing.T, r Reply, wantCode, wantRef string) ACK {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("ACK Content-Type = %q, want text/plain", ct)
	}
	a := parseACK(t, r.Body)
	if !ackMSHRe.MatchString(a.Segments[0]) {
		t.Errorf("ACK MSH = %q, want MSH|^~\\&|DEX|QVV|emergency-care|r0d|<14 digits>||ACK|<uuid>|P|2.4", a.Segments[0])
	}
	if a.Code() != wantCode {
		t.Errorf("MSA-1 = %q, want %s (ACK %q)", a.Code(), wantCode, r.Body)
	}
	if a.RefControlID() != wantRef {
		t.Errorf("MSA-2 = %q, want %q", a.RefControlID(), wantRef)
	}
	return a
}

// Story 1: a trust sends an ADT through the bundled ed-adt channel; it is acknowledged AA,
// archived with the family name upper-cased, and the operator sees every stage.
func TestHL7HappyPath(t *testing.T) {
	t.Parallel()
	j := startJunction(t, edRoutes, nil)

	base, err := os.ReadFile(filepath.Join(repoRoot, "hl7", "testdata", "adt_a01.hl7"))
	if err != nil {
		t.Fatalf("the bundled test message is missing: %v", err)
	}
	raw := setField(t, string(base), "PID", 5, 1, "Fernández")
	raw = setField(t, raw, "MSH", 10, 0, "E2E-HAPPY-0001")
	want := setField(t, raw, "PID", 5, 1, "FERNÁNDEZ")

	r := postHL7(t, j.IngestURL(), "emergency-care", raw)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", r.Status, r.Body)
	}
	a := checkACK(t, r, "AA", "E2E-HAPPY-0001")
	oo := a.Outcome(t)
	if oo.Issue[0].Severity != "information" {
		t.Errorf("outcome severity %q, want information: %s", oo.Issue[0].Severity, a.Text())
	}
	id := r.MessageID()
	if id <= 0 {
		t.Fatalf("no Junction-Message-Id header in %v", r.Header)
	}
	if !strings.Contains(oo.Diagnostics(), strconv.FormatInt(id, 10)) {
		t.Errorf("outcome %q does not name message %d", oo.Diagnostics(), id)
	}

	file := filepath.Join(j.Dir, "out", "ed-adt", "ed-adt-"+strconv.FormatInt(id, 10)+".hl7")
	var got []byte
	waitFor(t, waitDefault, "the archive file "+file, func() (bool, string) {
		got, err = os.ReadFile(file)
		return err == nil, errString(err)
	})
	if string(got) != want {
		t.Errorf("archived file differs from the message with PID-5.1 upper-cased:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(string(got), "|FERNÁNDEZ^") {
		t.Errorf("archived file lacks FERNÁNDEZ: %q", got)
	}

	var listed APIMessage
	waitFor(t, waitDefault, "GET /api/messages to show the message SENT", func() (bool, string) {
		for _, m := range j.Messages(t, "") {
			if m.ID == id {
				listed = m
				return m.Status == "SENT", m.Status
			}
		}
		return false, "not listed"
	})
	if listed.Channel != "ed-adt" || listed.ControlID != "E2E-HAPPY-0001" || listed.DataType != "Hl7v2" ||
		listed.SourceDomain != "emergency-care" || listed.OrgCode != "r0d" {
		t.Errorf("listed message %+v: want channel ed-adt, control id E2E-HAPPY-0001, Hl7v2, emergency-care, r0d", listed)
	}
	if len(j.Messages(t, "status=SENT&channel=ed-adt")) != 1 {
		t.Errorf("GET /api/messages?status=SENT&channel=ed-adt does not list exactly the one message")
	}

	m := j.Message(t, id)
	if m.Raw != raw {
		t.Errorf("raw stage is not the message as posted:\n got %q\nwant %q", m.Raw, raw)
	}
	if m.Transformed == nil || *m.Transformed != want {
		t.Errorf("transformed stage = %v, want %q", strp(m.Transformed), want)
	}
	d := m.Destination("archive")
	if d == nil {
		t.Fatalf("no archive destination in %+v", m.Destinations)
	}
	if d.Status != "SENT" || d.Attempts != 1 {
		t.Errorf("archive: status %s attempts %d, want SENT after 1 attempt", d.Status, d.Attempts)
	}
	if d.Encoded == nil || *d.Encoded != want {
		t.Errorf("archive encoded stage = %v, want the transformed message", strp(d.Encoded))
	}
	if d.Response == nil || !strings.Contains(*d.Response, file) {
		t.Errorf("archive response stage = %v, want it to name %s", strp(d.Response), file)
	}
	if m.Meta["source-domain"] != "emergency-care" || m.Meta["data-type"] != "Hl7v2" {
		t.Errorf("meta %v lacks the request headers", m.Meta)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func strp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return strconv.Quote(*s)
}

// Story 2: a message the filter does not want is logged FILTERED and acknowledged AA (or
// AR with filtered_ack: AR), and nothing is delivered.
func TestHL7Filtered(t *testing.T) {
	t.Parallel()
	routes := edRoutes
	filterLine := lineOf(t, routes, `get("MSH-9.1") in`)
	j := startJunction(t, routes, nil)

	r := postHL7(t, j.IngestURL(), "emergency-care", siu("E2E-SIU-1"))
	if r.Status != http.StatusOK {
		t.Fatalf("filtered SIU: status %d, want 200; body %q", r.Status, r.Body)
	}
	checkACK(t, r, "AA", "E2E-SIU-1")
	siuID := r.MessageID()
	m := j.Message(t, siuID)
	if m.Status != "FILTERED" {
		t.Errorf("SIU status %s, want FILTERED", m.Status)
	}
	if len(m.Destinations) != 0 {
		t.Errorf("a filtered message has deliveries: %+v", m.Destinations)
	}
	if want := "routes.yaml:" + strconv.Itoa(filterLine); !strings.Contains(m.Error, want) {
		t.Errorf("filtered message error %q does not name the filter at %s", m.Error, want)
	}

	// An ADT after it is archived; the SIU never is.
	r = postHL7(t, j.IngestURL(), "emergency-care", adt("E2E-ADT-2", "Smith"))
	if r.Status != http.StatusOK {
		t.Fatalf("ADT: status %d, body %q", r.Status, r.Body)
	}
	adtFile := "ed-adt-" + strconv.FormatInt(r.MessageID(), 10) + ".hl7"
	dir := filepath.Join(j.Dir, "out", "ed-adt")
	waitFor(t, waitDefault, "the ADT's archive file", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, adtFile))
		return err == nil, errString(err)
	})
	j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
	if names := dirNames(t, dir); len(names) != 1 || names[0] != adtFile {
		t.Errorf("archive folder holds %v, want only %s", names, adtFile)
	}
	if m := j.Message(t, siuID); m.Status != "FILTERED" {
		t.Errorf("SIU status changed to %s", m.Status)
	}

	t.Run("filtered_ack AR", func(t *testing.T) {
		strict := strings.Replace(routes, "    filter:\n", "    filtered_ack: AR\n    filter:\n", 1)
		if strict == routes {
			t.Fatal("could not add filtered_ack to routes.yaml")
		}
		j := startJunction(t, strict, nil)
		r := postHL7(t, j.IngestURL(), "emergency-care", siu("E2E-SIU-3"))
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("filtered with filtered_ack AR: status %d, want 4xx", r.Status)
		}
		a := checkACK(t, r, "AR", "E2E-SIU-3")
		oo := a.Outcome(t)
		if oo.Issue[0].Severity != "error" {
			t.Errorf("outcome severity %q, want error", oo.Issue[0].Severity)
		}
		if id := r.MessageID(); id <= 0 {
			t.Errorf("no Junction-Message-Id for a filtered (stored) message")
		} else if m := j.Message(t, id); m.Status != "FILTERED" {
			t.Errorf("status %s, want FILTERED", m.Status)
		}
	})
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// Story 3: a transform that compiles but fails on this message gives AE with a 4xx, and the
// operator finds the message in ERROR with the failing line of routes.yaml.
func TestHL7TransformError(t *testing.T) {
	t.Parallel()
	routes := `admin:
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
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      # a family name is not a number: this fails at run time, not when loading
      - 'set("PID-8", int(get("PID-5.1")))'
    destinations:
      - name: archive
        type: file
        dir: out
`
	line := lineOf(t, routes, `int(get("PID-5.1"))`)
	j := startJunction(t, routes, nil)

	r := postHL7(t, j.IngestURL(), "emergency-care", adt("E2E-TX-1", "Smith"))
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("status %d, want 4xx; body %q", r.Status, r.Body)
	}
	a := checkACK(t, r, "AE", "E2E-TX-1")
	where := "routes.yaml:" + strconv.Itoa(line)
	id := r.MessageID()
	if id <= 0 {
		t.Fatalf("no Junction-Message-Id header")
	}
	// The sender learns that the channel failed and under which id, not the script.
	d := a.Outcome(t).Diagnostics()
	if strings.Contains(d, "routes.yaml") || strings.Contains(d, "int(") || !strings.Contains(d, "message id "+strconv.FormatInt(id, 10)) {
		t.Errorf("ACK diagnostics %q: want the message id and neither the script nor its line", d)
	}
	m := j.Message(t, id)
	if m.Status != "ERROR" {
		t.Errorf("status %s, want ERROR", m.Status)
	}
	if !strings.Contains(m.Error, where) {
		t.Errorf("error %q does not name %s", m.Error, where)
	}
	if len(m.Destinations) != 0 {
		t.Errorf("a message that failed its transform has deliveries: %+v", m.Destinations)
	}
	if m.Raw != adt("E2E-TX-1", "Smith") {
		t.Errorf("raw stage %q is not the message posted", m.Raw)
	}
	if got := j.Messages(t, "status=ERROR"); len(got) != 1 || got[0].ID != id {
		t.Errorf("GET /api/messages?status=ERROR = %+v, want just message %d", got, id)
	}
}
