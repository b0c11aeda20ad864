package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"junction/engine"
)

// A store of schema 4 (before channel states) is upgraded on open with its messages
// intact; a channel's state then survives closing and opening the store again, and is
// in the audit trail with who set it.
func TestAStoreOfSchema4IsUpgradedAndAChannelsStateSurvivesReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:4]), "PRAGMA user_version = 4",
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
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := get(t, s, 1); d.ControlID != "OLD1" {
		t.Fatalf("the old message: %+v", d)
	}
	if st, err := s.ChannelStates(ctx); err != nil || len(st) != 0 {
		t.Fatalf("states of an upgraded store: %v %v", st, err)
	}
	if err := s.SetChannelState(ctx, "adt", engine.ChannelPaused, "by otto"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannelState(ctx, "adt", engine.ChannelStopped, "by otto"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := s.ChannelStates(ctx); err != nil || st["adt"] != engine.ChannelStopped || len(st) != 1 {
		t.Fatalf("states after reopening: %v %v", st, err)
	}
	ev, err := s.LastEvent(ctx, "channel-stopped")
	if err != nil || ev.Channel != "adt" || ev.Detail != "by otto" {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}
