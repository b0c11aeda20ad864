package ui

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Two channels with custom metadata columns: adt's mrn, patient and event; lab's mrn and
// class.
const columnRoutes = `store:
  path: junction.db
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: emergency-care }
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    columns:
      mrn: 'get("PID-3.1")'
      patient: 'get("PID-5.1") + ", " + get("PID-5.2")'
      event: 'get("MSH-9.1") + "^" + get("MSH-9.2")'
    destinations:
      - { name: archive, type: file, dir: out/adt }
  - name: lab
    source: { type: ingest, listen: "127.0.0.1:0", domain: lab }
    columns:
      mrn: 'get("PID-3.1")'
      class: 'get("PV1-2")'
    destinations:
      - { name: archive, type: file, dir: out/lab }
`

func newColumnHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, t.TempDir(), columnRoutes)
}

func TestColumnsAreStoredForIngestedMessagesAndFilterTheAPIList(t *testing.T) {
	h := newColumnHarness(t)
	smith := h.postTo("emergency-care", hl7("ADT^A01", "301", "Smith", ""))
	smythe := h.postTo("emergency-care", hl7("ADT^A08", "302", "Smythe", ""))
	lab := h.postTo("lab", hl7("ORU^R01", "303", "Jones", ""))

	want := map[string]string{"mrn": "943476301", "patient": "SMITH, JOHN", "event": "ADT^A01"}
	if got := h.message(smith).Columns; !maps.Equal(got, want) {
		t.Errorf("message %d columns %v, want %v (after the transform)", smith, got, want)
	}
	if got := h.message(lab).Columns; !maps.Equal(got, map[string]string{"mrn": "943476303", "class": "E"}) {
		t.Errorf("lab message %d columns %v", lab, got)
	}
	ids := func(query string) []int64 {
		var out []int64
		for _, m := range h.messages(query) {
			out = append(out, m.ID)
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"col.mrn=943476302", []int64{smythe}},
		{"col.mrn=943476303", []int64{lab}},
		{"col.mrn=9434763*", []int64{lab, smythe, smith}},
		{"col.patient=" + url.QueryEscape("SMY*"), []int64{smythe}},
		{"col.event=" + url.QueryEscape("ADT^A01") + "&col.mrn=943476301", []int64{smith}},
		{"channel=adt&col.mrn=943476303", nil},
		{"col.mrn=", []int64{lab, smythe, smith}}, // an empty input filters on nothing
	} {
		if got := ids(c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s lists %v, want %v", c.query, got, c.want)
		}
	}
	listed := h.messages("col.mrn=943476301")
	if len(listed) != 1 || listed[0].Columns["patient"] != "SMITH, JOHN" {
		t.Errorf("the list does not carry the columns: %+v", listed)
	}
	var problem struct{ Error string }
	h.call("GET", "/api/messages?col.nope=1", nil, 400, &problem)
	if !strings.Contains(problem.Error, `col.nope: no channel has column named "nope"`) {
		t.Errorf("an unknown column: %q", problem.Error)
	}
	h.call("GET", "/api/messages?channel=adt&col.class=E", nil, 400, &problem)
	if !strings.Contains(problem.Error, `channel adt has no column named "class"`) {
		t.Errorf("a column of another channel: %q", problem.Error)
	}
}

// cellsJS lists the custom column cells of the message rows: "id:name=value;…|…".
const cellsJS = `Array.from(document.querySelectorAll("#results tr[data-id]")).map(r => r.dataset.id + ":" +
	Array.from(r.querySelectorAll("td[data-column]")).map(td => td.dataset.column + "=" + td.textContent).join(";")).join("|")`

const headersJS = `Array.from(document.querySelectorAll("#results th[data-column]")).map(th => th.textContent).join(",")`

func TestBrowserMessageListShowsAndFiltersOnCustomColumns(t *testing.T) {
	h := newColumnHarness(t)
	smith := h.postTo("emergency-care", hl7("ADT^A01", "401", "Smith", ""))
	jones := h.postTo("emergency-care", hl7("ADT^A08", "402", "Jones", ""))
	lab := h.postTo("lab", hl7("ORU^R01", "403", "Lab", ""))
	b := newBrowser(t)

	b.open(h.base + "/messages")
	if got := b.eval(headersJS); got != "mrn,patient,event,class" {
		t.Errorf("with no channel chosen the columns are %q, want every channel's", got)
	}
	wantCells := fmt.Sprintf("%d:mrn=943476403;patient=;event=;class=E|%d:mrn=943476402;patient=JONES, JOHN;event=ADT^A08;class=|%d:mrn=943476401;patient=SMITH, JOHN;event=ADT^A01;class=",
		lab, jones, smith)
	if got := b.eval(cellsJS); got != wantCells {
		t.Errorf("cells\n %s\nwant\n %s", got, wantCells)
	}
	// Filter as an operator would: type in the column's input and search.
	b.run(
		chromedp.SetValue(chromedp.CSS(`input[name="col.patient"]`), "SMI*"),
		chromedp.Click(chromedp.CSS(`#search`)),
	)
	b.waitJS("the list filtered on patient", rowIDs, func(s string) bool { return s == joinIDs(smith) })
	if got := b.eval(`new URL(location.href).searchParams.get("col.patient")`); got != "SMI*" {
		t.Errorf("the filter is not in the address: %q", got)
	}
	if got := b.eval(`document.querySelector('input[name="col.patient"]').value`); got != "SMI*" {
		t.Errorf("the filter input lost its value: %q", got)
	}

	b.open(h.base + "/messages?channel=lab")
	if got := b.eval(headersJS); got != "mrn,class" {
		t.Errorf("channel=lab shows columns %q, want lab's", got)
	}
	if got := b.eval(`String(document.querySelectorAll('input[name="col.patient"]').length)`); got != "0" {
		t.Errorf("channel=lab offers a filter on adt's patient column")
	}

	b.open(fmt.Sprintf("%s/messages/%d", h.base, smith))
	if got := b.eval(`document.querySelector('dd[data-column="patient"]').textContent`); got != "SMITH, JOHN" {
		t.Errorf("the message page shows patient %q", got)
	}
	b.noProblems()
}

func TestABulkJobTakesAColumnFilterAndTouchesOnlyTheMatchingMessages(t *testing.T) {
	h := newColumnHarness(t)
	smith := h.postTo("emergency-care", hl7("ADT^A01", "501", "Smith", ""))
	h.postTo("emergency-care", hl7("ADT^A01", "502", "Jones", ""))
	job := h.runJob(map[string]any{"action": "reprocess", "filter": map[string]string{"col.patient": "SMITH*"}})
	if job.Total != 1 || job.Succeeded != 1 || len(job.Created) != 1 || job.Created[0].MessageID != smith {
		t.Fatalf("job %+v, want the one SMITH message reprocessed", job)
	}
	if got := h.message(job.Created[0].NewID).Columns["mrn"]; got != "943476501" {
		t.Errorf("the reprocessed message's mrn column is %q", got)
	}
	if job.Filter["col.patient"] != "SMITH*" {
		t.Errorf("the job's filter %v lost its column", job.Filter)
	}
}
