package ui

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"junction/engine"
)

const destFilterRoutes = `store:
  path: junction.db
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    destinations:
      - { name: archive, type: file, dir: out }
      - name: lab-only
        type: file
        dir: out/lab
        filter: ['get("MSH-9.1") == "ORU"']
`

// The API's destination list and the message page show a destination its filter left
// out as FILTERED with the filter's FILE:LINE; the channel's counts count it.
func TestTheMessagePageAndAPIShowAFilteredDestinationWithItsReason(t *testing.T) {
	h := newHarnessWith(t, t.TempDir(), destFilterRoutes)
	id := h.post(hl7("ADT^A01", "7001", "Filtered", ""))
	m := h.waitStatus(id, "archive", engine.StatusSent)
	if m.Status != engine.StatusSent {
		t.Errorf("message %s, want SENT", m.Status)
	}
	var lab engine.DestinationStatus
	for _, d := range m.Destinations {
		if d.Name == "lab-only" {
			lab = d
		}
	}
	if lab.Status != engine.StatusFiltered || !strings.Contains(lab.Reason, "routes.yaml:11") {
		t.Errorf("lab-only in the API: %+v", lab)
	}
	if got := h.messages("destination=lab-only&destination_status=FILTERED"); len(got) != 1 || got[0].ID != id {
		t.Errorf("listed FILTERED for lab-only: %+v", got)
	}
	resp, err := http.Get(h.base + "/messages/" + strconv.FormatInt(id, 10))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if !strings.Contains(page, `<span class="st filtered" data-k="status">FILTERED</span>`) || !strings.Contains(page, "routes.yaml:11") {
		t.Errorf("the message page does not show lab-only FILTERED with its reason")
	}
	if strings.Contains(page, `name="destination" value="lab-only"`) {
		t.Errorf("the message page offers to resend to lab-only")
	}
}
