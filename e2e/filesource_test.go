package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fileDropChannel reads HL7v2 files dropped in in/lab into an archive.
const fileDropChannel = `  - name: lab-drop
    source:
      type: file
      dir: in/lab
      glob: '*.hl7'
      poll: 50ms
      settle: 300ms
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out/lab-drop }
`

// filesIn lists the names of the files (not folders) in dir, sorted.
func filesIn(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// waitFilesIn polls until dir holds exactly want.
func waitFilesIn(t *testing.T, dir string, want ...string) {
	t.Helper()
	sort.Strings(want)
	waitFor(t, waitDefault, dir+" to hold "+strings.Join(want, ", "), func() (bool, string) {
		got := filesIn(dir)
		return strings.Join(got, "|") == strings.Join(want, "|"), strings.Join(got, ", ")
	})
}

// A drop folder read by the real binary: junction check creates nothing; serve creates
// the folders, reads a batch file written under a temporary name and renamed, and a
// Latin-1 file, one message each of their messages, moves them to processed and a file
// holding no HL7v2 to error with its reason. Stopped, given a processed file again (as a
// crash before the move leaves it) and started, it moves the file and logs nothing new.
func TestFileDropFolderIsReadByTheBinaryAndARestartStoresNothingTwice(t *testing.T) {
	t.Parallel()
	j := newJunction(t, routesWith(fileDropChannel), nil)
	in := filepath.Join(j.Dir, "in", "lab")
	if code, out, errs := runCheck(t, j.Config); code != 0 {
		t.Fatalf("junction check exited %d: %s%s", code, out, errs)
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Fatalf("junction check touched the drop folder: %v", err)
	}
	j.Start()
	for _, d := range []string{in, filepath.Join(in, "processed"), filepath.Join(in, "error")} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Fatalf("serve did not create %s: %v", d, err)
		}
	}
	batch, err := os.ReadFile(filepath.Join(repoRoot, "hl7", "testdata", "batch", "lab_results_file.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	latin1, err := os.ReadFile(filepath.Join(repoRoot, "hl7", "testdata", "charset", "adt_a01_8859-1.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(in, "results.hl7.part")
	os.WriteFile(part, batch, 0o644)
	os.Rename(part, filepath.Join(in, "results.hl7"))
	os.WriteFile(filepath.Join(in, "adt-latin1.hl7"), latin1, 0o644)
	os.WriteFile(filepath.Join(in, "note.hl7"), []byte("not a message\n"), 0o644)

	waitFilesIn(t, filepath.Join(in, "processed"), "results.hl7", "adt-latin1.hl7")
	waitFilesIn(t, filepath.Join(in, "error"), "note.hl7", "note.hl7.reason")
	waitFilesIn(t, in)
	ms := j.AllMessages(t, "channel=lab-drop")
	if len(ms) != 3 {
		t.Fatalf("%d messages logged, want 3 (two results and the ADT)", len(ms))
	}
	for _, m := range ms {
		m = j.WaitMessage(t, m.ID, "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		if m.ControlID == "MSG-20240213-000123" && (m.Transformed == nil || !strings.Contains(*m.Transformed, "FERNÁNDEZ^María^José") || !strings.Contains(m.Raw, "FERN\uFFFDNDEZ^Mar\uFFFDa^Jos\uFFFD") || m.Meta["charset"] != "ISO-8859-1" || m.Meta["filename"] != "adt-latin1.hl7") {
			t.Errorf("the Latin-1 ADT: raw %.120q transformed %v meta %v, want the Latin-1 bytes as raw, UTF-8 text as transformed, charset ISO-8859-1, its filename", m.Raw, m.Transformed, m.Meta)
		}
	}
	if reason, _ := os.ReadFile(filepath.Join(in, "error", "note.hl7.reason")); !strings.Contains(string(reason), "holds no HL7v2 message") {
		t.Errorf("note.hl7.reason says %q", reason)
	}

	j.Stop()
	os.WriteFile(filepath.Join(in, "results.hl7"), batch, 0o644)
	j.Start()
	waitFor(t, waitDefault, "results.hl7 moved again", func() (bool, string) {
		got := filesIn(filepath.Join(in, "processed"))
		return len(got) == 3 && len(filesIn(in)) == 0, strings.Join(got, ", ")
	})
	if again := j.AllMessages(t, "channel=lab-drop"); len(again) != 3 {
		t.Fatalf("%d messages logged after the restart, want still 3", len(again))
	}
}

// ingestBatchChannel takes HL7v2 on $ingest for emergency-care.
const ingestBatchChannel = `  - name: ed-batch
    source:
      type: ingest
      listen: {{INGEST}}
      domain: emergency-care
    destinations:
      - { name: archive, type: file, dir: out/ed-batch }
`

// An HL7 batch posted to $ingest is logged as one message each of its messages and
// answered 200 with a batch of their ACKs, Junction-Message-Id listing their ids.
func TestIngestBatchIsLoggedMessageByMessageByTheBinary(t *testing.T) {
	t.Parallel()
	j := startJunction(t, routesWith(ingestBatchChannel), nil)
	body := "BHS|^~\\&|PAS|RX1|DEX|QVV|20240213144932||||E2E-BATCH\r" + adt("E2E-BATCH-1", "Smith") + adt("E2E-BATCH-2", "Jones") + "BTS|2\r"
	r := postHL7(t, j.IngestURL(), "emergency-care", body)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Body, "BHS|") || strings.Count(r.Body, "\rMSA|AA|E2E-BATCH-") != 2 || !strings.HasSuffix(r.Body, "BTS|2\r") {
		t.Fatalf("status %d body %q: want 200 and a batch of two AAs", r.Status, r.Body)
	}
	ids := strings.Split(r.Header.Get("Junction-Message-Id"), ",")
	if len(ids) != 2 {
		t.Fatalf("Junction-Message-Id %q, want two ids", r.Header.Get("Junction-Message-Id"))
	}
	for i, s := range ids {
		id, _ := strconv.ParseInt(s, 10, 64)
		m := j.WaitMessage(t, id, "SENT", func(m APIMessage) bool { return m.Status == "SENT" })
		if m.ControlID != "E2E-BATCH-"+strconv.Itoa(i+1) || m.Meta["batch-index"] != strconv.Itoa(i+1) {
			t.Errorf("message %d: %s batch-index %q, want E2E-BATCH-%d", id, m.ControlID, m.Meta["batch-index"], i+1)
		}
	}
}
