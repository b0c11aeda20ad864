package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// readDir concatenates the files of dir matching pattern, in name order.
func readDir(t *testing.T, dir, pattern string) (names []string, content string) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return names, b.String()
}

// The bundled routes.yaml as shipped: an ADT, a FHIR resource and a CSV extract posted to
// its endpoint are acknowledged, SENT, and archived (whatever file layout it uses).
func TestBundledRoutes(t *testing.T) {
	t.Parallel()
	j := startJunction(t, bundledRoutes(t), map[string]string{"GATEWAY": freeAddr(t)})

	raw := adt("E2E-BUNDLED-1", "Fernández")
	r := postHL7(t, j.IngestURL(), "emergency-care", raw)
	if r.Status != http.StatusOK {
		t.Fatalf("ADT: status %d body %q", r.Status, r.Body)
	}
	checkACK(t, r, "AA", "E2E-BUNDLED-1")
	adtID := r.MessageID()

	fhir := `{"resourceType":"Encounter","id":"e2e-bundled-enc1","status":"arrived","class":{"code":"EMER"}}`
	r = post(t, j.IngestURL(), ingestHeaders("emergency-care", "r0d", "FHIR"), fhir)
	if r.Status != http.StatusOK {
		t.Fatalf("FHIR: status %d body %q", r.Status, r.Body)
	}
	fhirID := r.MessageID()
	csv := "nhs_number,arrival\n9434765919,2024-02-13T14:49:00Z\n"
	r = post(t, j.IngestURL(), ingestHeaders("emergency-care", "r0d", "CSV"), csv)
	if r.Status != http.StatusOK {
		t.Fatalf("CSV: status %d body %q", r.Status, r.Body)
	}
	csvID := r.MessageID()

	for _, id := range []int64{adtID, fhirID, csvID} {
		j.WaitMessage(t, id, "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
	}
	m := j.Message(t, adtID)
	// The bundled channel upper-cases the family name, then converts to a FHIR Bundle.
	if m.Channel != "ed-adt" || m.Transformed == nil || !strings.HasPrefix(*m.Transformed, `{"resourceType":"Bundle"`) || !strings.Contains(*m.Transformed, `"family":"FERNÁNDEZ"`) {
		t.Errorf("ADT in %s transformed to %s, want ed-adt with a Bundle holding FERNÁNDEZ", m.Channel, strp(m.Transformed))
	}
	if _, all := readDir(t, filepath.Join(j.Dir, "out", "ed-adt"), "*"); m.Transformed != nil && !strings.Contains(all, *m.Transformed) {
		t.Errorf("the transformed ADT is in no file under out/ed-adt")
	}
	_, all := readDir(t, filepath.Join(j.Dir, "out", "ed-fhir-csv"), "*")
	if !strings.Contains(all, fhir) || !strings.Contains(all, csv) {
		t.Errorf("out/ed-fhir-csv holds %q, want the FHIR resource and the CSV extract", all)
	}
}

// A daily file destination (append: true) collects the day's messages in order, and when
// the file is taken away (picked up by the next system, rotated) the next message starts a
// new file at that name rather than vanishing into the one taken away.
func TestFileAppend(t *testing.T) {
	t.Parallel()
	j := startJunction(t, strings.Replace(edRoutes, "        dir: out/ed-adt\n",
		"        dir: out/ed-adt\n        filename: \"{channel}-{date}.{ext}\"\n        append: true\n", 1), nil)
	dir := filepath.Join(j.Dir, "out", "ed-adt")

	var want strings.Builder
	for _, c := range []struct{ cid, family, upper string }{
		{"E2E-APP-1", "Fernández", "FERNÁNDEZ"}, {"E2E-APP-2", "Smith", "SMITH"}, {"E2E-APP-3", "Ørsted", "ØRSTED"},
	} {
		r := postHL7(t, j.IngestURL(), "emergency-care", adt(c.cid, c.family))
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d body %q", c.cid, r.Status, r.Body)
		}
		j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		want.WriteString(adt(c.cid, c.upper) + "\n")
	}
	names, got := readDir(t, dir, "ed-adt-*.hl7")
	if got != want.String() {
		t.Errorf("daily file(s) %v hold\n %q\nwant\n %q", names, got, want.String())
	}
	if len(names) == 0 {
		t.Fatal("no daily file")
	}

	// The next system picks the file up by moving it away.
	picked := filepath.Join(j.Dir, "picked")
	if err := os.MkdirAll(picked, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.Rename(n, filepath.Join(picked, filepath.Base(n))); err != nil {
			t.Fatal(err)
		}
	}
	_, before := readDir(t, picked, "*")
	r := postHL7(t, j.IngestURL(), "emergency-care", adt("E2E-APP-4", "Jones"))
	if r.Status != http.StatusOK {
		t.Fatalf("E2E-APP-4: status %d body %q", r.Status, r.Body)
	}
	// SENT means written: no waiting for the file after this.
	j.WaitMessage(t, r.MessageID(), "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
	if _, after := readDir(t, picked, "*"); after != before {
		t.Errorf("a message was appended to the file already picked up (E2E-APP-4 in it: %v)", strings.Contains(after, "|E2E-APP-4|"))
	}
	if names, got := readDir(t, dir, "ed-adt-*.hl7"); got != adt("E2E-APP-4", "JONES")+"\n" {
		t.Errorf("after the pickup, out/ed-adt holds %v with %q; want a new daily file with just E2E-APP-4", names, got)
	}
}
