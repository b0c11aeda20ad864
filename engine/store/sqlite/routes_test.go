package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"junction/engine"
)

// filteredMsg is a message routed to dests, which the filters of skipped left out.
func filteredMsg(channel string, dests []string, skipped ...engine.SkippedDestination) *engine.NewMessage {
	m := newMsg(channel, dests...)
	m.Skipped = skipped
	return m
}

var labFiltered = engine.SkippedDestination{Name: "lab", Status: engine.StatusFiltered,
	Reason: `filtered by routes.yaml:12 (channels[0].destinations[1].filter[0]): get("MSH-9.1") == "ORU"`}

// A destination its filter left out has a final FILTERED delivery with the reason, never
// queued; the message's status ignores it (FILTERED when every destination is), the
// destination's counters count it, and a resend leaves it out.
func TestAFilteredDestinationIsAFinalDeliveryTheMessageStatusIgnores(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	id := mustAccept(t, s, filteredMsg("adt", []string{"epr"}, labFiltered))
	d := get(t, s, id)
	if d.Status != engine.StatusQueued {
		t.Errorf("status %s, want QUEUED", d.Status)
	}
	lab := destByName(t, d, "lab")
	if lab.Status != engine.StatusFiltered || lab.Reason != labFiltered.Reason || lab.LastError != "" || lab.Attempts != 0 {
		t.Errorf("lab: %+v", lab)
	}
	if p, _ := s.Pending(ctx, "adt", "lab", 0, 10); len(p) != 0 {
		t.Errorf("lab has pending deliveries: %+v", p)
	}
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1}}); err != nil {
		t.Fatal(err)
	}
	if d := get(t, s, id); d.Status != engine.StatusSent {
		t.Errorf("status after epr is sent: %s, want SENT", d.Status)
	}
	names, err := s.Resend(ctx, engine.ResendRequest{MessageID: id, Destinations: []string{"epr", "lab"}})
	if err != nil || !slices.Equal(names, []string{"epr"}) {
		t.Errorf("resend: %v %v", names, err)
	}
	all := mustAccept(t, s, filteredMsg("adt", nil, labFiltered,
		engine.SkippedDestination{Name: "epr", Status: engine.StatusFiltered, Reason: "filtered by routes.yaml:9"}))
	if d := get(t, s, all); d.Status != engine.StatusFiltered || len(d.Destinations) != 2 {
		t.Errorf("every destination filtered: %+v", d)
	}
	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: all}); !errors.Is(err, engine.ErrNoDeliveries) {
		t.Errorf("resend of a message every filter left out: %v", err)
	}
	failed := mustAccept(t, s, filteredMsg("adt", []string{"epr"},
		engine.SkippedDestination{Name: "lab", Status: engine.StatusError, Reason: "routes.yaml:12: boom"}))
	if d := get(t, s, failed); d.Status != engine.StatusError || destByName(t, d, "lab").LastError != "routes.yaml:12: boom" {
		t.Errorf("a filter that failed: %+v", d)
	}
	if names, err := s.Resend(ctx, engine.ResendRequest{MessageID: failed}); err != nil || !slices.Equal(names, []string{"epr"}) {
		t.Errorf("resend of a message whose filter failed for lab: %v %v", names, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := st["adt"].Destinations["lab"]; c != (engine.DestinationCounts{Filtered: 2, Error: 1}) {
		t.Errorf("lab counts %+v", c)
	}
	if st["adt"].Filtered != 1 {
		t.Errorf("channel filtered %d, want 1 (the message every destination left out)", st["adt"].Filtered)
	}
	got := list(t, s, engine.MessageFilter{DestinationStatus: engine.StatusFiltered, Destination: "lab"})
	if !slices.Equal(got, []int64{all, id}) {
		t.Errorf("messages FILTERED for lab: %v", got)
	}
	if _, err := s.Accept(ctx, filteredMsg("adt", []string{"lab"}, labFiltered)); err == nil {
		t.Error("a destination both routed and skipped was accepted")
	}
	checkCounters(t, s)
	if err := s.RemoveMessage(ctx, all, false, "test"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(ctx); st["adt"].Destinations["lab"] != (engine.DestinationCounts{Filtered: 1, Error: 1}) {
		t.Errorf("lab counts after a removal %+v", st["adt"].Destinations["lab"])
	}
}

// A store of schema 4 (before destination filters) is upgraded on open with its data
// intact: its queues' counters are kept, with nothing filtered, and new messages may
// have FILTERED deliveries.
func TestAStoreOfSchema4IsUpgradedForDestinationFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:4]), "PRAGMA user_version = 4",
		`INSERT INTO channels (name, received) VALUES ('adt', 1)`,
		`INSERT INTO queues (id, channel, destination, sent) VALUES (1, 'adt', 'epr', 1)`,
		`INSERT INTO messages (id, channel, status, received_at, data_type, control_id, source_domain, org_code, error)
			VALUES (1, 'adt', 'SENT', 1700000000000000000, 'Hl7v2', 'OLD1', 'lab', 'RX1', '')`,
		`INSERT INTO contents (message_id, raw) VALUES (1, 'MSH|^~\&|A|B|C|D|2024||ADT^A01|OLD1|P|2.4')`,
		`INSERT INTO deliveries (id, queue_id, status, attempts, updated_at) VALUES (256, 1, 'SENT', 1, 1700000000000000000)`,
	) {
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
	if d := get(t, s, 1); d.ControlID != "OLD1" || d.Status != engine.StatusSent || destByName(t, d, "epr").Status != engine.StatusSent {
		t.Fatalf("the old message: %+v", d)
	}
	id := mustAccept(t, s, filteredMsg("adt", []string{"epr"}, labFiltered))
	if d := get(t, s, id); destByName(t, d, "lab").Status != engine.StatusFiltered {
		t.Fatalf("after the upgrade: %+v", d)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := st["adt"].Destinations["epr"]; c != (engine.DestinationCounts{Queued: 1, Sent: 1}) {
		t.Errorf("epr counts %+v", c)
	}
	if c := st["adt"].Destinations["lab"]; c != (engine.DestinationCounts{Filtered: 1}) {
		t.Errorf("lab counts %+v", c)
	}
	var v int
	if err := s.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion {
		t.Errorf("user_version %d %v", v, err)
	}
	checkCounters(t, s)
}
