package connectors

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

// fileRoutes reads in/ (fast polling, settle as given) into an archive; ADT and ORU
// pass the filter, and a PID-8 of X makes the transform fail.
const fileRoutes = `store:
  path: junction.db
channels:
  - name: drop
    source:
      type: file
      dir: in
      poll: 10ms
      settle: SETTLE
      max_file_bytes: 4KB
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-8") != "X" || setBody(1/0)'
    destinations:
      - { name: archive, type: file, dir: out }
`

// fileRig is a routes.yaml in a folder of its own, served by an engine that can be
// stopped and started again on the same store and folders.
type fileRig struct {
	t     *testing.T
	dir   string // the routes.yaml folder
	in    string // the drop folder
	eng   *engine.Engine
	store *sqlite.Store
	logs  *logBuffer
	now   time.Time // ages of dropped files count back from it
}

func newFileRig(t *testing.T, routes string) *fileRig {
	t.Helper()
	r := &fileRig{t: t, dir: t.TempDir(), now: time.Now()}
	r.in = filepath.Join(r.dir, "in")
	if err := os.WriteFile(filepath.Join(r.dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.in, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// start loads routes.yaml and starts it on the store in the rig's folder.
func (r *fileRig) start() {
	r.t.Helper()
	eng, err := engine.Load(filepath.Join(r.dir, "routes.yaml"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.logs = &logBuffer{}
	eng.Log = slog.New(slog.NewTextHandler(r.logs, nil))
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := eng.Start(store); err != nil {
		store.Close()
		r.t.Fatal(err)
	}
	r.eng, r.store = eng, store
}

// stop stops the engine (the file in progress is finished) and closes the store.
func (r *fileRig) stop() {
	if r.eng == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.eng.Stop(ctx)
	r.store.Close()
	r.eng, r.store = nil, nil
}

// drop writes a file into the drop folder with the given age (its mtime that long before
// the rig was made; 0: now), as careful writers do: under a temporary name, renamed
// when whole.
func (r *fileRig) drop(name, content string, age time.Duration) {
	r.t.Helper()
	tmp := filepath.Join(r.in, "."+name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if age != 0 {
		at := r.now.Add(-age)
		if err := os.Chtimes(tmp, at, at); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, filepath.Join(r.in, name)); err != nil {
		r.t.Fatal(err)
	}
}

// files lists the names of the files (not folders) in a folder under the rig's.
func (r *fileRig) files(sub string) []string {
	entries, _ := os.ReadDir(filepath.Join(r.dir, sub))
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// waitFiles polls until the folder holds exactly want (sorted names).
func (r *fileRig) waitFiles(sub string, want ...string) {
	r.t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := r.files(sub)
		if strings.Join(got, "|") == strings.Join(want, "|") {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s holds %q, want %q; log:\n%s", sub, got, want, r.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// messages lists the channel's stored messages, oldest first, in full.
func (r *fileRig) messages() []*engine.MessageDetail {
	r.t.Helper()
	sum, err := r.store.ListMessages(context.Background(), engine.MessageFilter{Channel: "drop", Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]*engine.MessageDetail, len(sum))
	for i, s := range sum {
		out[len(sum)-1-i] = getMessage(r.t, r.eng, s.ID)
	}
	return out
}

func controlIDs(ms []*engine.MessageDetail) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ControlID)
	}
	return strings.Join(ids, " ")
}

func fileRoutesSettling(settle string) string {
	return strings.Replace(fileRoutes, "SETTLE", settle, 1)
}

// Files already waiting are read oldest first (by mtime, then by name), each message
// stored with the file's name in its metadata, and each file moved to in/processed.
func TestFilesDroppedAreProcessedOldestFirstAndMovedToTheProcessedFolder(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	r.drop("a.hl7", mllpADT("THIRD", "Smith"), 1*time.Minute)
	r.drop("b.hl7", mllpADT("FIRST", "Jones"), 3*time.Minute)
	r.drop("d.hl7", mllpADT("SECOND-D", "Brown"), 2*time.Minute)
	r.drop("c.hl7", mllpADT("SECOND-C", "Green"), 2*time.Minute)
	r.start()
	r.waitFiles("in/processed", "a.hl7", "b.hl7", "c.hl7", "d.hl7")
	r.waitFiles("in")
	ms := r.messages()
	if got := controlIDs(ms); got != "FIRST SECOND-C SECOND-D THIRD" {
		t.Fatalf("stored in the order %s, want FIRST SECOND-C SECOND-D THIRD", got)
	}
	m := ms[0]
	if m.Meta["filename"] != "b.hl7" || m.Meta["file-index"] != "1" || m.Meta["charset"] != "UTF-8" || len(m.Meta["file-sha256"]) != 64 {
		t.Errorf("meta %v: want filename b.hl7, file-index 1, charset UTF-8 and the file's SHA-256", m.Meta)
	}
	if m.Transformed == nil || !strings.Contains(*m.Transformed, "||JONES^José") {
		t.Errorf("transformed %v: want the channel's transform applied", m.Transformed)
	}
	if b, _ := os.ReadFile(filepath.Join(r.in, "processed", "b.hl7")); string(b) != mllpADT("FIRST", "Jones") {
		t.Errorf("processed/b.hl7 holds %q, want the file as it was dropped", b)
	}
}

// A batch file (FHS, BHS … BTS, FTS) and a file of several messages one after another
// (LF line ends) yield one message each of their messages, in order.
func TestABatchFileYieldsOneMessageForEachMessageInIt(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	batch, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", "batch", "lab_results_file.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	r.drop("results.hl7", string(batch), 2*time.Minute)
	r.drop("two.hl7", strings.ReplaceAll(mllpADT("TWO-1", "Smith")+mllpADT("TWO-2", "Jones"), "\r", "\n"), time.Minute)
	r.start()
	r.waitFiles("in/processed", "results.hl7", "two.hl7")
	ms := r.messages()
	if got := controlIDs(ms); got != "LAB-778812 LAB-778813 TWO-1 TWO-2" {
		t.Fatalf("stored %s, want the batch's two results, then TWO-1 TWO-2", got)
	}
	for i, want := range []string{"1", "2", "1", "2"} {
		if ms[i].Meta["file-index"] != want || ms[i].Status == engine.StatusError {
			t.Errorf("message %d: %s, file-index %q, want %s and not ERROR (%s)", i+1, ms[i].ControlID, ms[i].Meta["file-index"], want, ms[i].Error)
		}
	}
	if strings.Contains(ms[0].Raw, "BHS") || strings.Contains(ms[1].Raw, "BTS") {
		t.Errorf("a message holds the batch's header or trailer: %q", ms[0].Raw+ms[1].Raw)
	}
}

// A file modified less than settle ago is left alone (it may still be being written)
// while an older file beside it is read; once it has settled it is read too.
func TestAFileStillBeingWrittenIsNotReadUntilItHasSettled(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("1h"))
	r.drop("fresh.hl7", mllpADT("FRESH", "Smith"), 0)
	r.drop("old.hl7", mllpADT("OLD", "Jones"), 2*time.Hour)
	r.start()
	// Both were there for the first look at the folder, which read only the old one.
	r.waitFiles("in/processed", "old.hl7")
	r.waitFiles("in", "fresh.hl7")
	if got := controlIDs(r.messages()); got != "OLD" {
		t.Fatalf("stored %s, want only OLD", got)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(r.in, "fresh.hl7"), past, past)
	r.waitFiles("in/processed", "fresh.hl7", "old.hl7")
	if got := controlIDs(r.messages()); got != "OLD FRESH" {
		t.Fatalf("stored %s, want OLD FRESH", got)
	}
}

// Names writers use while writing (dot files, ~ files, .tmp, .part …) are never read,
// nor names the glob does not take.
func TestTemporaryNamesAndNamesOutsideTheGlobAreNeverRead(t *testing.T) {
	r := newFileRig(t, strings.Replace(fileRoutesSettling("0s"), "      poll: 10ms\n", "      poll: 10ms\n      glob: '*.hl7'\n", 1))
	ignored := []string{".hidden.hl7", "~lock.hl7", "backup.hl7~", "upload.hl7.tmp", "upload.hl7.part", "big.hl7.filepart", "notes.txt"}
	for i, name := range ignored {
		r.drop(name, mllpADT("IGNORED", "Smith"), time.Duration(i+2)*time.Minute)
	}
	r.drop("ok.hl7", mllpADT("OK", "Jones"), time.Minute) // the newest: read after any older
	r.start()
	r.waitFiles("in/processed", "ok.hl7")
	r.waitFiles("in", ignored...)
	if got := controlIDs(r.messages()); got != "OK" {
		t.Fatalf("stored %s, want only OK", got)
	}
}

// A file too large, empty, not HL7v2 at all, or that cannot be read goes to in/error
// with NAME.reason saying why, and nothing is stored of it.
func TestFilesThatCannotBeReadAsMessagesGoToTheErrorFolderWithTheReason(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	r.drop("big.hl7", mllpADT("BIG", "Smith")+"NTE|1||"+strings.Repeat("x", 5000)+"\r", 4*time.Minute)
	r.drop("empty.hl7", " \r\n", 3*time.Minute)
	r.drop("letter.hl7", "Dear colleague,\nplease find enclosed…\n", 2*time.Minute)
	want := map[string]string{
		"big.hl7":    "larger than max_file_bytes (4 KB)",
		"empty.hl7":  "the file is empty",
		"letter.hl7": "holds no HL7v2 message",
	}
	if os.Geteuid() != 0 { // root reads any file
		r.drop("secret.hl7", mllpADT("SECRET", "Smith"), time.Minute)
		os.Chmod(filepath.Join(r.in, "secret.hl7"), 0)
		want["secret.hl7"] = "cannot be read"
	}
	r.start()
	var names []string
	for name := range want {
		names = append(names, name, name+".reason")
	}
	r.waitFiles("in/error", names...)
	r.waitFiles("in")
	for name, reason := range want {
		b, _ := os.ReadFile(filepath.Join(r.in, "error", name+".reason"))
		if !strings.Contains(string(b), reason) || !strings.Contains(r.logs.String(), reason) {
			t.Errorf("%s.reason says %q, want %q (and the log too)", name, b, reason)
		}
	}
	if ms := r.messages(); len(ms) != 0 {
		t.Errorf("stored %s, want nothing", controlIDs(ms))
	}
}

// A crash after a file's messages are stored but before it is moved leaves the file in
// the folder: the restart finds its messages in the store, under the keys of the file's
// content, and only moves it (to a name of its own, the first being taken). FILTERED
// and ERROR messages count as stored too.
func TestARestartAfterACrashBetweenStoringAndMovingMovesTheFileWithoutStoringItAgain(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	content := mllpADT("CRASH-1", "Smith") +
		strings.Replace(mllpADT("CRASH-2", "Jones"), "ADT^A01", "SIU^S12", 1) +
		strings.Replace(mllpADT("CRASH-3", "Brown"), "|19800101|M", "|19800101|X", 1)
	r.drop("adt.hl7", content, time.Minute)
	r.start()
	r.waitFiles("in/processed", "adt.hl7")
	ms := r.messages()
	if len(ms) != 3 || ms[1].Status != engine.StatusFiltered || ms[2].Status != engine.StatusError {
		t.Fatalf("stored %s, want CRASH-1, CRASH-2 FILTERED, CRASH-3 ERROR", controlIDs(ms))
	}
	r.stop()
	// The state a crash between the commit and the move leaves: the file still in in/.
	r.drop("adt.hl7", content, time.Minute)
	r.start()
	r.waitFiles("in")
	processed := r.files("in/processed")
	if len(processed) != 2 || processed[1] != "adt.hl7" || !strings.HasPrefix(processed[0], "adt.2") || !strings.HasSuffix(processed[0], ".hl7") {
		t.Fatalf("processed holds %q, want adt.hl7 and adt.<time>.hl7", processed)
	}
	if again := r.messages(); len(again) != 3 {
		t.Fatalf("stored %s after the restart, want the same three messages", controlIDs(again))
	}
	if !strings.Contains(r.logs.String(), "already stored") {
		t.Errorf("the log does not say the file's messages were already stored:\n%s", r.logs)
	}
	// The same name with other content is another file: read as such.
	r.drop("adt.hl7", mllpADT("CRASH-4", "Smith"), time.Minute)
	r.waitFiles("in")
	if got := controlIDs(r.messages()); got != "CRASH-1 CRASH-2 CRASH-3 CRASH-4" {
		t.Fatalf("stored %s, want CRASH-4 after the first three", got)
	}
}

// A Latin-1 file (MSH-18 8859/1) is stored as read, its charset in the metadata, and
// routed as UTF-8 text.
func TestALatin1FileIsReadInTheCharacterSetItsMSH18Names(t *testing.T) {
	r := newFileRig(t, fileRoutesSettling("0s"))
	latin1, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", "charset", "adt_a01_8859-1.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	r.drop("latin1.hl7", string(latin1), time.Minute)
	r.start()
	r.waitFiles("in/processed", "latin1.hl7")
	ms := r.messages()
	if len(ms) != 1 || ms[0].Status == engine.StatusError {
		t.Fatalf("stored %d messages (%v), want one not in ERROR", len(ms), ms)
	}
	if !strings.Contains(ms[0].Raw, "FERN\xc1NDEZ^Mar\xeda^Jos\xe9") || !strings.HasPrefix(string(latin1), ms[0].Raw) || ms[0].Meta["charset"] != "ISO-8859-1" {
		t.Errorf("raw %.200q with charset %q: want the file's ISO-8859-1 bytes", ms[0].Raw, ms[0].Meta["charset"])
	}
	if ms[0].Transformed == nil || !strings.Contains(*ms[0].Transformed, "FERNÁNDEZ^María^José") {
		t.Errorf("transformed %v: want UTF-8 text read from ISO-8859-1", ms[0].Transformed)
	}
}

// after: delete removes a file once its messages are stored; a FHIR file is one message.
func TestAfterDeleteRemovesTheFileAndAFHIRFileIsOneMessage(t *testing.T) {
	r := newFileRig(t, `store:
  path: junction.db
channels:
  - name: drop
    source: { type: file, dir: in, poll: 10ms, settle: 0s, after: delete, data_type: FHIR }
    destinations:
      - { name: archive, type: file, dir: out }
`)
	r.drop("patient.json", "\ufeff"+`{"resourceType":"Patient","id":"p1"}`, time.Minute)
	r.start()
	r.waitFiles("in")
	ms := r.messages()
	if len(ms) != 1 || ms[0].DataType != "FHIR" || ms[0].Status == engine.StatusError || ms[0].Meta["filename"] != "patient.json" {
		t.Fatalf("stored %+v, want one FHIR message from patient.json", ms)
	}
	if p := r.files("in/processed"); len(p) != 0 {
		t.Errorf("processed holds %q, want nothing (deleted)", p)
	}
}

// Load (junction check) creates no folder; mistakes are reported at their lines, among
// them two channels reading one folder.
func TestFileSourceConfigMistakesAreReportedAtTheirLinesAndLoadTouchesNoFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	routes := `store:
  path: junction.db
channels:
  - name: one
    source: { type: file, dir: in }
  - name: two
    source:
      type: file
      dir: ./in/
  - name: three
    source:
      type: file
      dir: other
      glob: '[x'
      poll: 0s
      after: keep
      data_type: hl7v2
      error_dir: other
`
	os.WriteFile(file, []byte(routes), 0o644)
	_, err := engine.Load(file)
	var errs engine.ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v, want config errors", err)
	}
	want := []string{
		`routes.yaml:9: channels[1].source.dir: channel one (line 5) already reads ./in/`,
		`routes.yaml:14: channels[2].source.glob: expected a pattern`,
		`routes.yaml:15: channels[2].source.poll: must be more than 0`,
		`routes.yaml:16: channels[2].source.after: expected delete or {move: DIR}, got "keep"`,
		`routes.yaml:17: channels[2].source.data_type: unknown data type "hl7v2"`,
		`routes.yaml:18: channels[2].source.error_dir: is dir itself`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "in")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load touched the folder: %v", err)
	}
}

// A folder that cannot be created fails the start at the line of its dir.
func TestAFolderThatCannotBeCreatedFailsTheStartAtItsLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(`store:
  path: junction.db
channels:
  - name: drop
    source:
      type: file
      dir: routes.yaml/in
`), 0o644)
	eng, err := engine.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	eng.Log = discard()
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = eng.Start(store)
	if err == nil {
		eng.Stop(context.Background())
		t.Fatal("Start succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "routes.yaml:7: channels[0].source.dir: cannot create folder") {
		t.Errorf("Start: %v, want it at routes.yaml:7", err)
	}
}
