package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

func hl7Msg(channel, control, family string, dests ...string) *engine.NewMessage {
	m := newMsg(channel, dests...)
	m.ControlID = control
	m.ReceivedAt = time.Now()
	m.Raw = []byte("MSH|^~\\&|LAB|RX1|EPR|RX1|20240101||ADT^A01|" + control + "|P|2.4\rPID|1||943^^^NHS||" + family + "^JOHN\r")
	return m
}

func waitIndexed(t testing.TB, s *Store, id int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitIndexed(ctx, id); err != nil {
		t.Fatalf("message %d not indexed: %v (indexed to %d)", id, err, s.indexedTo.Load())
	}
}

func list(t testing.TB, s *Store, f engine.MessageFilter) []int64 {
	t.Helper()
	ms, err := s.ListMessages(context.Background(), f)
	if err != nil {
		t.Fatalf("%+v: %v", f, err)
	}
	ids := []int64{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestFTSQuery(t *testing.T) {
	for in, want := range map[string]string{
		"smith":              `"smith"`,
		"SMITH^JOHN 943":     `"SMITH JOHN" "943"`,
		`"john smith" x-1`:   `"john smith" "x 1"`,
		"smi*":               `"smi*"`,
		`a"b OR NEAR(c)`:     `"a b" "OR" "NEAR c"`,
		"   ":                "",
		"|^~&":               "",
		`"unterminated phr`:  `"unterminated phr"`,
		"Fernández":          `"Fernández"`,
		`<script>alert(1)</`: `"script alert 1"`,
	} {
		if got := ftsQuery(in); got != want {
			t.Errorf("ftsQuery(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSearchAndFilters(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a := mustAccept(t, s, hl7Msg("adt", "C-100", "SMITH", "epr", "fhir"))
	b := mustAccept(t, s, hl7Msg("adt", "C-200", "Fernández", "epr", "fhir"))
	cm := hl7Msg("lab", "C-300", "JONES", "epr")
	cm.OrgCode, cm.SourceDomain = "RX2", "other.example"
	c := mustAccept(t, s, cm)
	fm := hl7Msg("adt", "C-400", "SMITHSON")
	fm.Status, fm.Error, fm.Destinations = engine.StatusFiltered, "filtered by x", nil
	f := mustAccept(t, s, fm)
	waitIndexed(t, s, f)

	// b: epr SENT, fhir ERROR; a: epr SENT (fhir QUEUED); c: QUEUED.
	if err := s.Record(ctx, []engine.AttemptResult{
		{MessageID: a, Destination: "epr", Status: engine.StatusSent, Attempts: 1},
		{MessageID: b, Destination: "epr", Status: engine.StatusSent, Attempts: 1},
		{MessageID: b, Destination: "fhir", Status: engine.StatusError, Attempts: 3, Error: "HTTP 500"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    engine.MessageFilter
		want []int64
	}{
		{engine.MessageFilter{Text: "smith"}, []int64{a}},
		{engine.MessageFilter{Text: "smith*"}, []int64{f, a}},
		{engine.MessageFilter{Text: "SMITH^JOHN"}, []int64{a}},
		{engine.MessageFilter{Text: "fernandez"}, []int64{b}}, // accents folded
		{engine.MessageFilter{Text: "john", Channel: "adt"}, []int64{f, b, a}},
		{engine.MessageFilter{Text: "john", BeforeID: b}, []int64{a}},
		{engine.MessageFilter{Text: "john", Limit: 2}, []int64{f, c}},
		{engine.MessageFilter{Text: "nobody"}, []int64{}},
		{engine.MessageFilter{Text: "filtered"}, []int64{f}}, // the error text is indexed too
		{engine.MessageFilter{ControlID: "C-200"}, []int64{b}},
		{engine.MessageFilter{ControlID: "C-20"}, []int64{}}, // exact
		{engine.MessageFilter{OrgCode: "RX2"}, []int64{c}},
		{engine.MessageFilter{SourceDomain: "lab.example", Channel: "adt"}, []int64{f, b, a}},
		{engine.MessageFilter{DestinationStatus: engine.StatusError}, []int64{b}},
		{engine.MessageFilter{DestinationStatus: engine.StatusSent}, []int64{b, a}},
		{engine.MessageFilter{DestinationStatus: engine.StatusSent, Destination: "fhir"}, []int64{}},
		{engine.MessageFilter{DestinationStatus: engine.StatusQueued}, []int64{c, a}},
		{engine.MessageFilter{DestinationStatus: engine.StatusQueued, Destination: "fhir"}, []int64{a}},
		{engine.MessageFilter{DestinationStatus: engine.StatusQueued, Destination: "epr", Channel: "lab"}, []int64{c}},
		{engine.MessageFilter{Destination: "fhir"}, []int64{b, a}},
		{engine.MessageFilter{Status: engine.StatusQueued}, []int64{c, a}},
		{engine.MessageFilter{Status: engine.StatusError, Text: "john"}, []int64{b}},
		{engine.MessageFilter{Since: time.Now().Add(-time.Hour)}, []int64{f, c, b, a}},
		{engine.MessageFilter{Since: time.Now().Add(time.Hour)}, []int64{}},
		{engine.MessageFilter{Until: time.Now().Add(-time.Hour)}, []int64{}},
		{engine.MessageFilter{Until: time.Now().Add(time.Hour), Text: "john"}, []int64{f, c, b, a}},
	} {
		if got := list(t, s, c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
		}
	}
	var fe *FilterError
	if _, err := s.ListMessages(ctx, engine.MessageFilter{Text: "^^^"}); !errors.As(err, &fe) || fe.Field != "q" {
		t.Errorf("empty text query: %v", err)
	}
	if _, err := s.ListMessages(ctx, engine.MessageFilter{DestinationStatus: engine.StatusTransformed}); !errors.As(err, &fe) {
		t.Errorf("bad destination status: %v", err)
	}
	st, err := s.SearchStatus(ctx)
	if err != nil || st.IndexedThrough != f || st.LatestID != f {
		t.Errorf("search status %+v %v", st, err)
	}
}

// Raw content stored as received in Latin-1 (a message never routed, so with no UTF-8
// transformed content) is indexed as the text it is.
func TestSearchFindsLatin1Raw(t *testing.T) {
	s := openTest(t, Options{})
	m := hl7Msg("adt", "L-1", "Fernandez", "epr")
	m.Raw = bytes.ReplaceAll(bytes.Replace(m.Raw, []byte("Fernandez"), []byte("M\xfcller"), 1), []byte("|P|2.4\r"), []byte("|P|2.4||||||8859/1\r"))
	m.Status, m.Error, m.Destinations = engine.StatusFiltered, "filtered by x", nil
	id := mustAccept(t, s, m)
	waitIndexed(t, s, id)
	if got := list(t, s, engine.MessageFilter{Text: "müller"}); !slices.Equal(got, []int64{id}) {
		t.Errorf("müller: got %v, want %v (raw %q)", got, []int64{id}, m.Raw)
	}
}

// Time ranges are answered through id bounds found by binary search.
func TestTimeRange(t *testing.T) {
	s := openTest(t, Options{NoIndexer: true})
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	for i := 0; i < 200; i++ {
		m := newMsg("adt", "epr")
		m.ReceivedAt = base.Add(time.Duration(i) * time.Hour)
		ids = append(ids, mustAccept(t, s, m))
	}
	got := list(t, s, engine.MessageFilter{Since: base.Add(10 * time.Hour), Until: base.Add(13 * time.Hour)})
	if want := []int64{ids[12], ids[11], ids[10]}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	tx, err := s.rdb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	lo, hi, err := idBounds(context.Background(), tx, base.Add(100*time.Hour), base.Add(150*time.Hour))
	if err != nil || lo != ids[100] || hi != ids[150] {
		t.Fatalf("bounds %d..%d (%v), want %d..%d", lo, hi, err, ids[100], ids[150])
	}
}

func TestResend(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	id := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	if err := s.Record(ctx, []engine.AttemptResult{
		{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1},
		{MessageID: id, Destination: "fhir", Status: engine.StatusError, Attempts: 5, Error: "connection refused"},
	}); err != nil {
		t.Fatal(err)
	}
	if d := get(t, s, id); d.Status != engine.StatusError {
		t.Fatalf("status %s", d.Status)
	}
	names, err := s.Resend(ctx, engine.ResendRequest{MessageID: id, Destinations: []string{"fhir"}, Detail: "night shift"})
	if err != nil || !slices.Equal(names, []string{"fhir"}) {
		t.Fatalf("resend: %v %v", names, err)
	}
	d := get(t, s, id)
	fh := destByName(t, d, "fhir")
	if d.Status != engine.StatusQueued || fh.Status != engine.StatusQueued || fh.Attempts != 5 || fh.Edited != nil {
		t.Fatalf("after resend: %+v / %+v", d.MessageSummary, fh)
	}
	if len(d.Events) != 1 || d.Events[0].Kind != "resend" || d.Events[0].Destination != "fhir" || d.Events[0].Detail != "night shift" {
		t.Fatalf("events %+v", d.Events)
	}
	p, err := s.Pending(ctx, "adt", "fhir", 0, 10)
	if err != nil || len(p) != 1 || p[0].MessageID != id || p[0].Attempts != 5 || time.Until(p[0].NextAttempt) > 0 {
		t.Fatalf("pending %+v %v", p, err)
	}
	checkCounters(t, s)

	// Edited content is what Pending hands out, and what the detail shows.
	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: id, Content: []byte("EDITED")}); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"epr", "fhir"} {
		p, _ := s.Pending(ctx, "adt", dest, 0, 10)
		if len(p) != 1 || string(p[0].Content) != "EDITED" {
			t.Fatalf("%s pending %+v", dest, p)
		}
	}
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 2}}); err != nil {
		t.Fatal(err)
	}
	d = get(t, s, id)
	if ep := destByName(t, d, "epr"); str(ep.Edited) != "EDITED" || str(ep.Sent) != "EDITED" {
		t.Fatalf("epr %+v", ep)
	}
	if len(d.Events) != 3 || d.Events[2].Kind != "resend-edited" {
		t.Fatalf("events %+v", d.Events)
	}
	checkCounters(t, s)
	// A resend without content drops the edit.
	s.Resend(ctx, engine.ResendRequest{MessageID: id, Destinations: []string{"epr"}})
	if p, _ := s.Pending(ctx, "adt", "epr", 0, 10); len(p) != 1 || string(p[0].Content) == "EDITED" {
		t.Fatalf("pending %+v", p)
	}

	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: id, Destinations: []string{"nope"}}); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown destination: %v", err)
	}
	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: 999}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
	fm := newMsg("adt")
	fm.Status = engine.StatusFiltered
	fid := mustAccept(t, s, fm)
	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: fid}); !errors.Is(err, engine.ErrNoDeliveries) {
		t.Errorf("filtered message: %v", err)
	}
	checkCounters(t, s)
}

func TestPauseQueuesAndLastError(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if p, err := s.QueuePaused(ctx, "adt", "epr"); err != nil || p {
		t.Fatalf("paused %v %v", p, err)
	}
	// A queue can be paused before any message reached it.
	if err := s.SetQueuePaused(ctx, "adt", "epr", true, "maintenance"); err != nil {
		t.Fatal(err)
	}
	id := mustAccept(t, s, newMsg("adt", "epr"))
	if p, _ := s.QueuePaused(ctx, "adt", "epr"); !p {
		t.Fatal("not paused")
	}
	at := time.Now()
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusQueued,
		Attempts: 1, Error: "HTTP 503", NextAttempt: at.Add(time.Second), At: at}}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireQueue(ctx, "adt", "epr", "node-1", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	qs, err := s.Queues(ctx)
	if err != nil || len(qs) != 1 {
		t.Fatalf("queues %+v %v", qs, err)
	}
	q := qs[0]
	if !q.Paused || q.Holder != "node-1" || q.HolderUntil == nil || q.LastError != "HTTP 503" || q.LastErrorMessage != id ||
		q.LastErrorAt == nil || !q.LastErrorAt.Equal(at.UTC().Truncate(0)) && q.LastErrorAt.UnixNano() != at.UnixNano() || q.Counts.Queued != 1 {
		t.Fatalf("queue %+v", q)
	}
	if err := s.SetQueuePaused(ctx, "adt", "epr", false, ""); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.QueuePaused(ctx, "adt", "epr"); p {
		t.Fatal("still paused")
	}
	evs, err := s.Events(ctx, "adt", 10)
	if err != nil || len(evs) != 2 || evs[0].Kind != "resume" || evs[1].Kind != "pause" || evs[1].Detail != "maintenance" {
		t.Fatalf("events %+v %v", evs, err)
	}
	checkCounters(t, s)
}

// The index cursor is persisted: a reopened store goes on from where it stopped, and
// indexes messages written while no indexer ran.
func TestIndexerResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 0; i < 50; i++ {
		last = mustAccept(t, s, hl7Msg("adt", fmt.Sprint("A", i), "EARLY"))
	}
	waitIndexed(t, s, last)
	s.Close()

	s, err = Open(path, Options{NoIndexer: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		last = mustAccept(t, s, hl7Msg("adt", fmt.Sprint("B", i), "LATE"))
	}
	if got := list(t, s, engine.MessageFilter{Text: "late"}); len(got) != 0 {
		t.Fatalf("found %d before indexing", len(got))
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitIndexed(t, s, last)
	if got := list(t, s, engine.MessageFilter{Text: "late", Limit: 1000}); len(got) != 30 {
		t.Fatalf("late: %d", len(got))
	}
	if got := list(t, s, engine.MessageFilter{Text: "early", Limit: 1000}); len(got) != 50 {
		t.Fatalf("early: %d (indexed twice?)", len(got))
	}
	var n int
	s.rdb.QueryRow(`SELECT count(*) FROM search WHERE search MATCH 'john'`).Scan(&n)
	if n != 80 {
		t.Fatalf("%d documents for 80 messages", n)
	}
}

// Under a writer that is never idle the indexer still makes progress.
func TestIndexerUnderLoad(t *testing.T) {
	old := indexStarve
	indexStarve = 50 * time.Millisecond
	defer func() { indexStarve = old }()
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			msgs := make([]*engine.NewMessage, 32)
			for i := range msgs {
				msgs[i] = hl7Msg("adt", "L", "LOAD", "epr")
			}
			acceptTogether(s, msgs)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for s.indexedTo.Load() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("indexed to %d under load", s.indexedTo.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// A database written by schema 1 (before search, pause and resend) is migrated on open:
// its messages become searchable and can be resent.
func TestMigrateFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], "PRAGMA user_version = 1",
		`INSERT INTO queues (id, channel, destination, error) VALUES (1, 'adt', 'epr', 1)`,
		`INSERT INTO channels (name, received) VALUES ('adt', 1)`,
		`INSERT INTO messages (id, channel, status, received_at, data_type, control_id, source_domain, org_code, error)
			VALUES (1, 'adt', 'ERROR', 1700000000000000000, 'Hl7v2', 'OLD1', 'lab', 'RX1', '')`,
		`INSERT INTO contents (message_id, raw) VALUES (1, 'MSH|^~\&|A|B|C|D|2024||ADT^A01|OLD1|P|2.4` + "\r" + `PID|1||1||VINTAGE^ANN')`,
		`INSERT INTO deliveries (id, queue_id, status, attempts, updated_at, last_error) VALUES (256, 1, 'ERROR', 3, 1, 'refused')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitIndexed(t, s, 1)
	if got := list(t, s, engine.MessageFilter{Text: "vintage"}); !slices.Equal(got, []int64{1}) {
		t.Fatalf("search after migration: %v", got)
	}
	if _, err := s.Resend(context.Background(), engine.ResendRequest{MessageID: 1}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(context.Background(), "adt", "epr", 0, 10); len(p) != 1 || p[0].Attempts != 3 {
		t.Fatalf("pending %+v", p)
	}
	checkCounters(t, s)
}
