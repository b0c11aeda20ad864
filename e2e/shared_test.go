package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Story 10: two channels on one listen address, told apart by source-domain and
// data-type, each get their own messages and only those.
func TestSharedListener(t *testing.T) {
	t.Parallel()
	fhirRecv := newReceiver(t, nil)
	j := startJunction(t, `admin:
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
    destinations:
      - name: archive
        type: file
        dir: out/ed-adt
  - name: uc-fhir
    source:
      type: ingest
      listen: {{INGEST}}
      domain: urgent-care
      data_types: [FHIR]
    transform:
      - 'set("meta.source", channel)'
    destinations:
      - name: fhir-server
        type: http
        url: {{FHIR}}
        retry: { backoff: 50ms }
`, map[string]string{"FHIR": fhirRecv.URL})

	hl7 := adt("E2E-SHARED-1", "Smith")
	r := postHL7(t, j.IngestURL(), "emergency-care", hl7)
	if r.Status != http.StatusOK {
		t.Fatalf("HL7v2 to emergency-care: status %d body %q", r.Status, r.Body)
	}
	checkACK(t, r, "AA", "E2E-SHARED-1")
	hl7ID := r.MessageID()

	patient := `{"resourceType":"Patient","id":"e2e-shared-p1","name":[{"family":"Smith"}]}`
	r = post(t, j.IngestURL(), ingestHeaders("urgent-care", "r0d", "FHIR"), patient)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("FHIR to urgent-care: status %d %s body %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if oo := parseOutcome(t, r.Body); oo.Issue[0].Severity != "information" {
		t.Errorf("FHIR outcome %s, want information", r.Body)
	}
	fhirID := r.MessageID()

	// Each lands at its own destination only.
	file := filepath.Join(j.Dir, "out", "ed-adt", fmt.Sprintf("ed-adt-%d.hl7", hl7ID))
	waitFor(t, waitDefault, "the HL7v2 archive file", func() (bool, string) {
		_, err := os.Stat(file)
		return err == nil, errString(err)
	})
	if b, _ := os.ReadFile(file); string(b) != hl7 {
		t.Errorf("archived %q, want the message as posted", b)
	}
	waitFor(t, waitDefault, "the FHIR resource at its server", func() (bool, string) {
		return len(fhirRecv.Accepted()) >= 1, fmt.Sprint(len(fhirRecv.Got()))
	})
	got := fhirRecv.Got()
	if len(got) != 1 || !strings.Contains(got[0].Body, `"id":"e2e-shared-p1"`) || !strings.Contains(got[0].Body, `"source":"uc-fhir"`) {
		t.Errorf("FHIR server got %+v, want the one transformed Patient", got)
	}
	if ct := got[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("FHIR sent as %q, want application/fhir+json", ct)
	}
	if names := dirNames(t, filepath.Join(j.Dir, "out", "ed-adt")); len(names) != 1 {
		t.Errorf("HL7v2 archive holds %v, want one file", names)
	}
	if m := j.WaitMessage(t, hl7ID, "SENT", func(m APIMessage) bool { return m.Status == "SENT" }); m.Channel != "ed-adt" {
		t.Errorf("HL7v2 message in channel %s, want ed-adt", m.Channel)
	}
	if m := j.WaitMessage(t, fhirID, "SENT", func(m APIMessage) bool { return m.Status == "SENT" }); m.Channel != "uc-fhir" {
		t.Errorf("FHIR message in channel %s, want uc-fhir", m.Channel)
	}

	// The wrong pairing on the shared endpoint is refused.
	r = post(t, j.IngestURL(), ingestHeaders("emergency-care", "r0d", "FHIR"), patient)
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("FHIR to emergency-care: status %d, want 4xx", r.Status)
	}
	if oo := parseOutcome(t, r.Body); !strings.Contains(oo.Diagnostics(), "data-type") {
		t.Errorf("refusal %q does not name data-type", oo.Diagnostics())
	}
	r = post(t, j.IngestURL(), ingestHeaders("urgent-care", "r0d", "Hl7v2"), hl7)
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("HL7v2 to urgent-care: status %d, want 4xx", r.Status)
	}
	if a := parseACK(t, r.Body); a.Code() != "AR" || !strings.Contains(a.Outcome(t).Diagnostics(), "data-type") {
		t.Errorf("refusal %q: want AR naming data-type", r.Body)
	}
	if n := len(j.AllMessages(t, "")); n != 2 {
		t.Errorf("API lists %d messages, want 2", n)
	}
	chans := j.Channels(t)
	if len(chans) != 2 || chans[0].Stats.Received != 1 || chans[1].Stats.Received != 1 {
		t.Errorf("channel stats %+v: want one message received by each", chans)
	}
}
