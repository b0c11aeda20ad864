package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"junction/engine"
)

var dateWarning = engine.Warning{Path: "PID-7", Value: "19801301", Problem: "is not a valid date",
	Expected: "YYYY[MM[DD]]", Text: `PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])`}

func TestConversionWarningsAreStoredWithTheMessageAndSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain := mustAccept(t, s, newMsg("adt", "fhir"))
	m := newMsg("adt", "fhir")
	m.Transformed = []byte(`{"resourceType":"Bundle"}`)
	m.Warnings = []engine.Warning{dateWarning, {Path: "OBX[2]-5", Value: "60~120", Problem: "has 2 repetitions", Text: "x"}}
	warned := mustAccept(t, s, m)
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := get(t, s, warned)
	if !reflect.DeepEqual(d.Warnings, m.Warnings) || d.WarningCount != 2 {
		t.Fatalf("warnings %d %+v", d.WarningCount, d.Warnings)
	}
	if d.Status != engine.StatusQueued {
		t.Errorf("a message with warnings is %s, want QUEUED like any routed message", d.Status)
	}
	if d := get(t, s, plain); d.Warnings != nil || d.WarningCount != 0 {
		t.Errorf("a message without warnings has %d %+v", d.WarningCount, d.Warnings)
	}
	msgs, err := s.ListMessages(context.Background(), engine.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int64]int{}
	for _, m := range msgs {
		counts[m.ID] = m.WarningCount
	}
	if counts[warned] != 2 || counts[plain] != 0 {
		t.Errorf("listed warning counts %v", counts)
	}
	if got := list(t, s, engine.MessageFilter{Warnings: true}); !slices.Equal(got, []int64{warned}) {
		t.Errorf("messages with warnings: %v", got)
	}
	if got := list(t, s, engine.MessageFilter{Warnings: true, Channel: "adt", Status: engine.StatusQueued}); !slices.Equal(got, []int64{warned}) {
		t.Errorf("queued adt messages with warnings: %v", got)
	}
	if err := s.RemoveMessage(context.Background(), warned, true, "test"); err != nil {
		t.Fatal(err)
	}
	if got := list(t, s, engine.MessageFilter{Warnings: true}); len(got) != 0 {
		t.Errorf("after removal: %v", got)
	}
}

// A store written by schema 3 (before warnings) is upgraded on open: its messages have
// none, and new ones keep theirs.
func TestAStoreOfSchema3IsUpgradedToKeepWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:3]), "PRAGMA user_version = 3",
		`INSERT INTO channels (name, received, filtered) VALUES ('adt', 1, 1)`,
		`INSERT INTO messages (id, channel, status, received_at, data_type, control_id, source_domain, org_code, error)
			VALUES (1, 'adt', 'FILTERED', 1700000000000000000, 'Hl7v2', 'OLD1', 'lab', 'RX1', '')`,
		`INSERT INTO contents (message_id, raw) VALUES (1, 'MSH|^~\&|A|B|C|D|2024||ADT^A01|OLD1|P|2.4')`,
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
	if d := get(t, s, 1); d.ControlID != "OLD1" || d.Warnings != nil || d.WarningCount != 0 {
		t.Fatalf("the old message: %+v", d)
	}
	m := newMsg("adt")
	m.Warnings = []engine.Warning{dateWarning}
	id := mustAccept(t, s, m)
	if d := get(t, s, id); len(d.Warnings) != 1 || d.Warnings[0] != dateWarning {
		t.Fatalf("warnings after the upgrade: %+v", d.Warnings)
	}
	if got := list(t, s, engine.MessageFilter{Warnings: true}); !slices.Equal(got, []int64{id}) {
		t.Errorf("messages with warnings: %v", got)
	}
	checkCounters(t, s)
}
