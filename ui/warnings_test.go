package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"junction/engine"
)

// convertRoutes is the bundled ed-adt channel as far as conversion goes: the family
// name upper-cased, the message converted with toFHIR() and stored in a FHIR store.
const convertRoutes = `store:
  path: junction.db
channels:
  - name: ed-adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care, data_types: [Hl7v2] }
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU", "VXU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'setBody(toFHIR())'
    tofhir:
      nhs_number_system: https://fhir.nhs.uk/Id/nhs-number
      time_zone: Europe/London
    destinations:
      - { name: fhir-store, type: fhir-store, path: fhir.db }
`

// labResult is an ORU whose OBX-5 does not convert: an NM value with two repetitions.
func labResult(control string) string {
	return "MSH|^~\\&|LAB|R0D|DEX|QVV|20240213144932||ORU^R01|" + control + "|P|2.4\r" +
		"PID|1||9434765919^^^NHS^NH||Smith^John||19800101|M\r" +
		"OBR|1||X" + control + "|GLU^Glucose\r" +
		"OBX|1|NM|GLU^Glucose||60~120|mmol/L|||||F\r"
}

// postConverted posts a message that converts with one warning (and one that converts
// cleanly) and waits until the FHIR store has both.
func postConverted(t *testing.T) (h *harness, warned, clean int64) {
	h = newHarnessWith(t, t.TempDir(), convertRoutes)
	warned = h.post(labResult("5101"))
	clean = h.post(hl7("ADT^A01", "5102", "Clean", ""))
	h.waitStatus(warned, "fhir-store", engine.StatusSent)
	h.waitStatus(clean, "fhir-store", engine.StatusSent)
	return h, warned, clean
}

func TestTheAPIShowsAConvertedMessagesWarningsAndFiltersOnThem(t *testing.T) {
	h, warned, clean := postConverted(t)
	m := h.message(warned)
	if m.Status != engine.StatusSent {
		t.Errorf("a message with warnings is %s, want SENT", m.Status)
	}
	if len(m.Warnings) != 1 || m.WarningCount != 1 {
		t.Fatalf("warnings %d %+v", m.WarningCount, m.Warnings)
	}
	w := m.Warnings[0]
	if !strings.HasPrefix(w.Path, "OBX") || !strings.HasSuffix(w.Path, "-5") || w.Value != "60~120" || w.Problem == "" || w.Expected == "" ||
		!strings.Contains(w.Text, `"60~120"`) {
		t.Errorf("warning %+v", w)
	}
	if m.Transformed == nil || !strings.Contains(*m.Transformed, `"resourceType":"Patient"`) {
		t.Errorf("the Bundle sent lacks the Patient")
	}
	if c := h.message(clean); c.Warnings != nil || c.WarningCount != 0 {
		t.Errorf("a clean conversion has warnings %+v", c.Warnings)
	}
	// The list counts them, and lists only them when asked.
	counts := map[int64]int{}
	for _, s := range h.messages("") {
		counts[s.ID] = s.WarningCount
	}
	if counts[warned] != 1 || counts[clean] != 0 {
		t.Errorf("warning counts listed %v", counts)
	}
	if got := h.messages("warnings=yes"); len(got) != 1 || got[0].ID != warned {
		t.Errorf("warnings=yes lists %+v", got)
	}
	var e struct{ Error string }
	h.call("GET", "/api/messages?warnings=maybe", nil, 400, &e)
	if !strings.Contains(e.Error, "warnings") {
		t.Errorf("a bad warnings filter: %q", e.Error)
	}
}

func TestBrowserShowsAConversionWarningOnTheMessageAndInTheList(t *testing.T) {
	h, warned, clean := postConverted(t)
	b := newBrowser(t)

	b.open(fmt.Sprintf("%s/messages/%d", h.base, warned))
	if got := b.eval(`document.querySelector("#message-status").textContent`); got != "SENT" {
		t.Errorf("status %q", got)
	}
	if got := b.eval(`(document.querySelector("#warning-badge") || {}).textContent || ""`); got != "1 conversion warning" {
		t.Errorf("badge %q", got)
	}
	if got := b.eval(`(document.querySelector("#warnings h2") || {}).textContent || ""`); !strings.HasPrefix(got, "Conversion warnings") {
		t.Errorf("section heading %q", got)
	}
	// Segment-field, value, problem and what was expected, as the converter said them.
	row := b.eval(`Array.from(document.querySelectorAll("#warnings tr.warning td")).map(td => td.textContent).join(" | ")`)
	w := h.message(warned).Warnings[0]
	if want := strings.Join([]string{w.Path, "60~120", w.Problem, w.Expected}, " | "); row != want || w.Expected == "" {
		t.Errorf("the warning reads %q, want %q", row, want)
	}
	// Near the content: the warnings come right before it.
	if got := b.eval(`document.querySelector("#warnings").nextElementSibling.querySelector("h2").textContent`); got != "Content" {
		t.Errorf("after the warnings comes %q", got)
	}
	b.open(fmt.Sprintf("%s/messages/%d", h.base, clean))
	if got := b.eval(`document.querySelector("#warnings, #warning-badge") ? "shown" : "none"`); got != "none" {
		t.Errorf("a clean message shows warnings")
	}

	b.open(h.base + "/messages")
	badges := b.eval(`Array.from(document.querySelectorAll("#results tr[data-id]")).map(r => r.dataset.id + ":" + ((r.querySelector(".badge.warn") || {}).textContent || "")).join(",")`)
	if want := fmt.Sprintf("%d:,%d:1 warning", clean, warned); badges != want {
		t.Errorf("list badges %q, want %q", badges, want)
	}
	// The filter, chosen as an operator would.
	b.run(chromedp.SetValue(chromedp.CSS(`select[name=warnings]`), "yes"), chromedp.Click(chromedp.CSS(`#search`)))
	b.waitJS("the filtered page", `location.search`, func(s string) bool { return strings.Contains(s, "warnings=yes") })
	b.waitJS("only the message with warnings", rowIDs, func(s string) bool { return s == joinIDs(warned) })
	b.noProblems()
}
