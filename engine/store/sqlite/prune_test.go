package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
)

const day = 24 * time.Hour

// agedMsg is an HL7v2 ADT for family, received age ago, queued for epr.
func agedMsg(channel, control, family string, age time.Duration) *engine.NewMessage {
	m := hl7Msg(channel, control, family, "epr")
	m.ReceivedAt = time.Now().Add(-age)
	return m
}

// send records a delivery to epr as SENT, with what was sent and answered.
func send(t *testing.T, s *Store, id int64, status engine.Status) {
	t.Helper()
	err := s.Record(context.Background(), []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: status,
		Attempts: 1, Encoded: []byte(fmt.Sprintf("ENCODED %d", id)), Response: []byte("MSA|AA|answered"), Error: errIf(status)}})
	if err != nil {
		t.Fatal(err)
	}
}

func errIf(st engine.Status) string {
	if st == engine.StatusError {
		return "refused"
	}
	return ""
}

func prune(t *testing.T, s *Store, r engine.Retention, dry bool) engine.PruneReport {
	t.Helper()
	rep, err := s.Prune(context.Background(), engine.PruneOptions{Channels: map[string]engine.Retention{"adt": r}, DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// indexHas lists the documents of the full-text index holding word, read from the index
// itself (not through the messages, as searches are).
func indexHas(t *testing.T, s *Store, word string) []int64 {
	t.Helper()
	rows, err := s.rdb.Query(`SELECT docid FROM search WHERE search MATCH ? ORDER BY docid`, word)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

func countRows(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestContentPastItsAgeIsRemovedAndTheMessageKept(t *testing.T) {
	s := openTest(t, Options{})
	old := mustAccept(t, s, agedMsg("adt", "OLD-1", "Oldname", 40*day))
	young := mustAccept(t, s, agedMsg("adt", "NEW-1", "Youngname", day))
	send(t, s, old, engine.StatusSent)
	send(t, s, young, engine.StatusSent)
	waitIndexed(t, s, young)

	rep := prune(t, s, engine.Retention{Content: 30 * day}, false)
	if got := rep.Channels["adt"]; got.Content != 1 || got.Messages != 0 {
		t.Fatalf("report %+v, want the content of 1 message removed", rep)
	}
	m := get(t, s, old)
	if !m.ContentRemoved || m.Raw != "" || m.Status != engine.StatusSent {
		t.Fatalf("old message: removed %v raw %q status %s", m.ContentRemoved, m.Raw, m.Status)
	}
	d := destByName(t, m, "epr")
	if d.Status != engine.StatusSent || d.Attempts != 1 || d.Encoded != nil || d.Sent != nil || d.Response != nil {
		t.Fatalf("old message's delivery kept content or lost its status: %+v", d)
	}
	if y := get(t, s, young); y.ContentRemoved || !strings.Contains(y.Raw, "Youngname") || destByName(t, y, "epr").Response == nil {
		t.Fatalf("the young message lost content: %+v", y)
	}
	if got := list(t, s, engine.MessageFilter{Text: "oldname"}); len(got) != 0 {
		t.Errorf("search still finds the pruned message's words: %v", got)
	}
	if got := indexHas(t, s, "oldname"); len(got) != 0 {
		t.Errorf("the index still holds the pruned message's words: %v", got)
	}
	if got := list(t, s, engine.MessageFilter{Text: "youngname"}); !slices.Equal(got, []int64{young}) {
		t.Errorf("search lost the young message: %v", got)
	}
	// The words the two shared (MSH, ADT, …) still find the young one.
	if got := list(t, s, engine.MessageFilter{Text: "ADT"}); !slices.Equal(got, []int64{young}) {
		t.Errorf("search for a word both had: %v, want only %d", got, young)
	}
	// A second pass finds nothing more to do.
	if rep := prune(t, s, engine.Retention{Content: 30 * day}, false); len(rep.Channels) != 0 {
		t.Errorf("second pass: %+v", rep)
	}
}

func TestMessagesPastTheirAgeAreRemovedAltogether(t *testing.T) {
	s := openTest(t, Options{})
	gone := mustAccept(t, s, agedMsg("adt", "G-1", "Goneaway", 100*day))
	stripped := mustAccept(t, s, agedMsg("adt", "S-1", "Stripped", 40*day))
	kept := mustAccept(t, s, agedMsg("adt", "K-1", "Keptname", day))
	for _, id := range []int64{gone, stripped, kept} {
		send(t, s, id, engine.StatusSent)
	}
	waitIndexed(t, s, kept)
	before, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	rep := prune(t, s, engine.Retention{Content: 30 * day, Messages: 90 * day}, false)
	if got := rep.Channels["adt"]; got.Content != 1 || got.Messages != 1 {
		t.Fatalf("report %+v, want 1 content and 1 message removed", rep)
	}
	if _, err := s.GetMessage(context.Background(), gone); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the old message is still there: %v", err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM deliveries WHERE id BETWEEN ? AND ?`, gone<<8, gone<<8|0xff); n != 0 {
		t.Errorf("%d deliveries of the removed message left", n)
	}
	if n := countRows(t, s, `SELECT count(*) FROM contents WHERE message_id = ?`, gone); n != 0 {
		t.Errorf("its content is left")
	}
	if got := indexHas(t, s, "goneaway"); len(got) != 0 {
		t.Errorf("the index still holds the removed message's words: %v", got)
	}
	if !get(t, s, stripped).ContentRemoved || get(t, s, kept).ContentRemoved {
		t.Errorf("the 40-day message should have lost its content, the 1-day one not")
	}
	after, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if before["adt"].Received != after["adt"].Received || before["adt"].Destinations["epr"] != after["adt"].Destinations["epr"] {
		t.Errorf("lifetime counts changed: %+v -> %+v", before["adt"], after["adt"])
	}
}

func TestQueuedAndErrorMessagesAreKeptUntilMax(t *testing.T) {
	s := openTest(t, Options{})
	queued := mustAccept(t, s, agedMsg("adt", "Q-1", "Queuedname", 100*day))
	failed := mustAccept(t, s, agedMsg("adt", "E-1", "Failedname", 100*day))
	send(t, s, failed, engine.StatusError)
	waitIndexed(t, s, failed)

	r := engine.Retention{Content: 30 * day, Messages: 90 * day}
	rep := prune(t, s, r, false)
	if got := rep.Channels["adt"]; got.Content != 0 || got.Messages != 0 || got.Held != 2 {
		t.Fatalf("report %+v, want 2 held and nothing removed", rep)
	}
	for _, id := range []int64{queued, failed} {
		if m := get(t, s, id); m.ContentRemoved || m.Raw == "" {
			t.Fatalf("message %d (%s) lost its content", id, m.Status)
		}
	}
	r.Max = 200 * day
	if rep := prune(t, s, r, false); rep.Channels["adt"].Messages != 0 {
		t.Fatalf("removed before max: %+v", rep)
	}
	r.Max = 95 * day
	rep = prune(t, s, r, false)
	if got := rep.Channels["adt"]; got.Messages != 2 {
		t.Fatalf("report %+v, want both removed past max", rep)
	}
	for _, id := range []int64{queued, failed} {
		if _, err := s.GetMessage(context.Background(), id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("message %d is still there past max: %v", id, err)
		}
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q := st["adt"].Destinations["epr"].Queued; q != 0 {
		t.Errorf("the queue's depth is %d after its queued message was removed, want 0", q)
	}
	if got := indexHas(t, s, "queuedname"); len(got) != 0 {
		t.Errorf("the index still holds a removed message's words: %v", got)
	}
}

func TestAResolvedMessageIsPrunedOnceItIsSent(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, agedMsg("adt", "R-1", "Resolved", 40*day))
	waitIndexed(t, s, id)
	r := engine.Retention{Content: 30 * day}
	if rep := prune(t, s, r, false); rep.Channels["adt"].Held != 1 {
		t.Fatalf("report %+v, want it held while queued", rep)
	}
	send(t, s, id, engine.StatusSent)
	if rep := prune(t, s, r, false); rep.Channels["adt"].Content != 1 {
		t.Fatalf("report %+v, want its content removed once sent", rep)
	}
}

func TestADryRunCountsAndChangesNothing(t *testing.T) {
	s := openTest(t, Options{})
	// (Oldest first: ids follow receipt times, as they do when messages arrive.)
	var ids []int64
	q := mustAccept(t, s, agedMsg("adt", "D-Q", "Dryqueued", 101*day))
	for i, age := range []time.Duration{100 * day, 100 * day, 40 * day, day} {
		id := mustAccept(t, s, agedMsg("adt", fmt.Sprint("D-", i), "Dryname", age))
		send(t, s, id, engine.StatusSent)
		ids = append(ids, id)
	}
	waitIndexed(t, s, ids[len(ids)-1])
	r := engine.Retention{Content: 30 * day, Messages: 90 * day}
	snapshot := func() string {
		var b strings.Builder
		for _, id := range append(ids, q) {
			m := get(t, s, id)
			fmt.Fprintf(&b, "%d %s %q %v %d|", id, m.Status, m.Raw, m.ContentRemoved, len(m.Destinations))
		}
		fmt.Fprint(&b, indexHas(t, s, "dryname"))
		return b.String()
	}
	before := snapshot()
	rep := prune(t, s, r, true)
	want := engine.PruneCounts{Content: 1, Messages: 2, Held: 1}
	if rep.Channels["adt"] != want {
		t.Fatalf("dry run counted %+v, want %+v", rep.Channels["adt"], want)
	}
	if after := snapshot(); after != before {
		t.Fatalf("a dry run changed the store:\n%s\n%s", before, after)
	}
	// The real pass does what the dry run said.
	if rep := prune(t, s, r, false); rep.Channels["adt"] != want {
		t.Fatalf("the pass did %+v, the dry run said %+v", rep.Channels["adt"], want)
	}
}

func TestChannelsWithoutRetentionAndTheDefault(t *testing.T) {
	s := openTest(t, Options{})
	a := mustAccept(t, s, agedMsg("adt", "A-1", "Keepforever", 100*day))
	b := mustAccept(t, s, agedMsg("old-channel", "B-1", "Oldchannel", 100*day))
	send(t, s, a, engine.StatusSent)
	send(t, s, b, engine.StatusSent)
	waitIndexed(t, s, b)
	// adt is configured to keep for ever; old-channel is no longer configured and
	// gets the default.
	rep, err := s.Prune(context.Background(), engine.PruneOptions{
		Channels: map[string]engine.Retention{"adt": {}},
		Default:  engine.Retention{Messages: 90 * day},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 1 || rep.Channels["old-channel"].Messages != 1 {
		t.Fatalf("report %+v, want only old-channel's message removed", rep)
	}
	if get(t, s, a).ContentRemoved {
		t.Fatal("a channel kept for ever lost content")
	}
}

func TestPruningGivesTheSpaceBack(t *testing.T) {
	s := openTest(t, Options{})
	if on, err := s.AutoVacuum(context.Background()); err != nil || !on {
		t.Fatalf("a new store does not vacuum incrementally: %v %v", on, err)
	}
	big := strings.Repeat("OBX|1|TX|||lorem ipsum dolor sit amet\r", 500) // ~20 KB
	var last int64
	for i := 0; i < 300; i++ {
		m := agedMsg("adt", fmt.Sprint("V-", i), "Bigname", 100*day)
		m.Raw = append(m.Raw, big...)
		last = mustAccept(t, s, m)
		send(t, s, last, engine.StatusSent)
	}
	waitIndexed(t, s, last)
	if err := s.Checkpoint(context.Background(), "TRUNCATE"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.fileSize()
	rep := prune(t, s, engine.Retention{Messages: 90 * day}, false)
	if err := s.Checkpoint(context.Background(), "TRUNCATE"); err != nil {
		t.Fatal(err)
	}
	after, _ := s.fileSize()
	if rep.Channels["adt"].Messages != 300 || after > before/4 {
		t.Fatalf("removed %+v; file %d bytes before, %d after (freed %d reported)", rep.Channels["adt"], before, after, rep.FreedBytes)
	}
	if n, err := s.Size(context.Background()); err != nil || n <= 0 {
		t.Fatalf("Size: %d %v", n, err)
	}
}

// Accepting goes on while a pass prunes: nothing is refused or lost, and the pass
// removes everything it should.
func TestPruningRunsBesideIngest(t *testing.T) {
	s := openTest(t, Options{})
	const old = 1000
	var last int64
	for i := 0; i < old; i++ {
		last = mustAccept(t, s, agedMsg("adt", fmt.Sprint("P-", i), "Pruneme", 100*day))
		send(t, s, last, engine.StatusSent)
	}
	waitIndexed(t, s, last)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []int64
	var acceptErr error
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id, err := s.Accept(context.Background(), agedMsg("adt", fmt.Sprint("N-", g, "-", i), "Newname", 0))
				mu.Lock()
				if err != nil && acceptErr == nil {
					acceptErr = err
				}
				accepted = append(accepted, id)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	rep, err := s.Prune(context.Background(), engine.PruneOptions{Channels: map[string]engine.Retention{"adt": {Messages: 90 * day}}, Batch: 50})
	cancel()
	wg.Wait()
	if err != nil || acceptErr != nil {
		t.Fatalf("prune: %v; accept: %v", err, acceptErr)
	}
	if rep.Channels["adt"].Messages != old {
		t.Fatalf("removed %+v, want %d", rep.Channels["adt"], old)
	}
	if len(accepted) == 0 {
		t.Fatal("nothing was accepted during the pass")
	}
	for _, id := range accepted {
		if m := get(t, s, id); m.Status != engine.StatusQueued || m.ContentRemoved {
			t.Fatalf("message %d accepted during the pass: %s, content removed %v", id, m.Status, m.ContentRemoved)
		}
	}
}

// A store from before retention has no table for the index to read a document's text
// from (it cannot delete from the index); the migration adds it, and the words a store
// indexed before are deleted when their message is pruned.
func TestAnOlderStoresIndexedWordsArePrunedAfterTheMigration(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, agedMsg("adt", "M-1", "Migrated", 40*day))
	send(t, s, id, engine.StatusSent)
	waitIndexed(t, s, id)
	path := s.Path()
	s.Close()

	// The store as it was before the retention migration (the migrations after it, if
	// any, are left alone), then that migration.
	v := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, `CREATE TABLE ""`) })
	if v < 0 {
		t.Fatal(`no migration creates the table ""`)
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE ""`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM search WHERE docid = ?`, id); err == nil {
		t.Fatal("the contentless index deleted a document without its text")
	}
	if _, err := db.Exec(migrations[v]); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := list(t, s, engine.MessageFilter{Text: "migrated"}); !slices.Equal(got, []int64{id}) {
		t.Fatalf("the index lost the message: %v", got)
	}
	rep, err := s.Prune(context.Background(), engine.PruneOptions{Channels: map[string]engine.Retention{"adt": {Content: 30 * day}}})
	if err != nil || rep.Channels["adt"].Content != 1 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if got := indexHas(t, s, "migrated"); len(got) != 0 {
		t.Errorf("the index still holds the pruned message's words: %v", got)
	}
	if rep, err := Check(context.Background(), path); err != nil || len(rep.Problems) != 0 {
		t.Errorf("integrity_check after pruning: %+v %v", rep, err)
	}
}

// Resending a message whose content is gone cannot send anything: the engine refuses it
// (engine.contentRemoved); the store reports the content as removed.
func TestAMessageWithoutContentSaysSo(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, agedMsg("adt", "X-1", "Xname", 40*day))
	send(t, s, id, engine.StatusSent)
	waitIndexed(t, s, id)
	prune(t, s, engine.Retention{Content: 30 * day}, false)
	m := get(t, s, id)
	if !m.ContentRemoved || m.Transformed != nil || len(m.Warnings) != 0 {
		t.Fatalf("%+v", m)
	}
}

// An operator's removal (RemoveMessage) takes the message's words out of the index too.
func TestARemovedMessagesWordsLeaveTheIndex(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, agedMsg("adt", "RM-1", "Removedname", day))
	send(t, s, id, engine.StatusSent)
	waitIndexed(t, s, id)
	if got := indexHas(t, s, "removedname"); !slices.Equal(got, []int64{id}) {
		t.Fatalf("indexed: %v", got)
	}
	if err := s.RemoveMessage(context.Background(), id, false, "test"); err != nil {
		t.Fatal(err)
	}
	if got := indexHas(t, s, "removedname"); len(got) != 0 {
		t.Errorf("the index still holds the removed message's words: %v", got)
	}
}

// sourceError accepts a message that failed at its source (ERROR, no deliveries).
func sourceError(t *testing.T, s *Store, control, family string, age time.Duration) int64 {
	t.Helper()
	m := agedMsg("adt", control, family, age)
	m.Destinations, m.Status, m.Error = nil, engine.StatusError, "transform failed"
	return mustAccept(t, s, m)
}

// reprocess does what engine.Reprocess does to the store: a new message linked to id,
// and the event on id.
func reprocess(t *testing.T, s *Store, id int64) {
	t.Helper()
	m := agedMsg("adt", fmt.Sprintf("RE-%d", id), "Rerun", 0)
	m.OriginalID = id
	n := mustAccept(t, s, m)
	send(t, s, n, engine.StatusSent)
	ev := engine.Event{MessageID: id, Channel: "adt", Kind: "reprocess", Detail: fmt.Sprintf("as message %d (SENT)", n)}
	if err := s.AddEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func TestASourceErrorThatWasReprocessedIsPrunedByTheOrdinaryAges(t *testing.T) {
	s := openTest(t, Options{})
	// In order of receipt, as ids are (the walks rely on it).
	gone := sourceError(t, s, "E-1", "Reprocessedold", 100*day)
	unresolved := sourceError(t, s, "E-2", "Unresolved", 100*day)
	stripped := sourceError(t, s, "E-3", "Reprocessedmid", 40*day)
	reprocess(t, s, gone)
	reprocess(t, s, stripped)
	last := mustAccept(t, s, agedMsg("adt", "L-1", "Last", 0))
	waitIndexed(t, s, last)

	r := engine.Retention{Content: 30 * day, Messages: 90 * day}
	rep := prune(t, s, r, false)
	if got := rep.Channels["adt"]; got.Messages != 1 || got.Content != 1 || got.Held != 1 {
		t.Fatalf("report %+v, want the old reprocessed message removed, the younger one's content removed, the unresolved one held", rep)
	}
	if _, err := s.GetMessage(context.Background(), gone); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("reprocessed message %d (100 days, messages 90d) is still there: %v", gone, err)
	}
	if m := get(t, s, stripped); !m.ContentRemoved || m.Status != engine.StatusError {
		t.Errorf("reprocessed message %d (40 days, content 30d): content removed %v, status %s; want its content removed and ERROR kept", stripped, m.ContentRemoved, m.Status)
	}
	if m := get(t, s, unresolved); m.ContentRemoved || m.Raw == "" {
		t.Errorf("message %d in ERROR, never reprocessed, lost its content before max", unresolved)
	}
	r.Max = 95 * day
	if got := prune(t, s, r, false).Channels["adt"]; got.Messages != 1 {
		t.Fatalf("report %+v, want the unresolved message removed past max", got)
	}
	if _, err := s.GetMessage(context.Background(), unresolved); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("message %d is still there past max: %v", unresolved, err)
	}
}
