package sqlite

import (
	"strings"
	"testing"
	"time"

	"junction/engine"
)

// explain is a query's plan, its steps joined with "; ".
func explain(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// TestQueryPlans pins the access paths the hot and listing queries rely on.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, Options{})
	plan := func(q string, args ...any) string { t.Helper(); return explain(t, s, q, args...) }
	expect := func(name, p string, want []string, not []string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan %q lacks %q", name, p, w)
			}
		}
		for _, n := range not {
			if strings.Contains(p, n) {
				t.Errorf("%s: plan %q has %q", name, p, n)
			}
		}
	}
	expect("pending", plan(pendingSQL, "c", "d", 0, 10),
		[]string{"deliveries_outbox (queue_id=? AND id>?)", "SEARCH m USING INTEGER PRIMARY KEY"}, []string{"SCAN", "TEMP B-TREE"})
	expect("set statuses", plan(setStatusesSQL, "SENT", "[1,2,3]"),
		[]string{"SEARCH messages USING INTEGER PRIMARY KEY (rowid=?)"}, []string{"SCAN messages"})
	expect("page deliveries", plan(pageDeliveriesSQL, "[1,2,3]"),
		[]string{"SEARCH d USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}, []string{"SCAN d", "SCAN q"})
	// QUEUED messages come from the outbox index, which holds only queued rows.
	q, args, err := listSQL(engine.MessageFilter{Status: engine.StatusQueued, BeforeID: 100})
	if err != nil {
		t.Fatal(err)
	}
	expect("list queued", plan(q, args...), []string{"deliveries_outbox", "SEARCH messages USING INTEGER PRIMARY KEY"}, []string{"TEMP B-TREE", "SCAN messages"})
	for _, f := range []engine.MessageFilter{
		{Status: engine.StatusError},
		{Channel: "c", Status: engine.StatusFiltered},
	} {
		q, args, err := listSQL(f)
		if err != nil {
			t.Fatal(err)
		}
		expect("list by status", plan(q, args...), []string{"messages_status"}, []string{"SCAN", "TEMP B-TREE"})
	}
	for _, f := range []engine.MessageFilter{{Channel: "c"}, {Channel: "c", BeforeID: 5}} {
		q, args, _ := listSQL(f)
		expect("list by channel", plan(q, args...), []string{"messages_channel"}, []string{"SCAN", "TEMP B-TREE"})
	}
	q, args, _ = listSQL(engine.MessageFilter{})
	expect("list all", plan(q, args...), nil, []string{"TEMP B-TREE"})
	// Messages with warnings come from their partial index, which holds only them.
	q, args, _ = listSQL(engine.MessageFilter{Warnings: true, BeforeID: 100})
	expect("list with warnings", plan(q, args...), []string{"messages_warnings"}, []string{"SCAN", "TEMP B-TREE"})

	// Text search walks the full-text index newest first and looks each candidate up.
	for _, f := range []engine.MessageFilter{
		{Text: "smith"},
		{Text: "smith", Channel: "c", BeforeID: 10, Status: engine.StatusError},
		{ControlID: "C1", OrgCode: "X"},
	} {
		q, args, _ := listSQLRange(f, 5, 100)
		expect("search", plan(q, args...), []string{"SCAN search VIRTUAL TABLE INDEX", ":DESC", "SEARCH messages USING INTEGER PRIMARY KEY"},
			[]string{"TEMP B-TREE", "SCAN messages"})
	}
	// A destination's status is checked on the page's rows by rowid range.
	q, args, _ = listSQL(engine.MessageFilter{DestinationStatus: engine.StatusError, Destination: "d"})
	expect("destination error", plan(q, args...), []string{"messages_status", "SEARCH d EXISTS USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
		[]string{"TEMP B-TREE", "SCAN messages"})
	q, args, _ = listSQL(engine.MessageFilter{DestinationStatus: engine.StatusQueued, Destination: "d"})
	expect("destination queued", plan(q, args...), []string{"deliveries_outbox"}, []string{"TEMP B-TREE", "SCAN messages"})
	// A time range is a primary key range.
	q, args, _ = listSQLRange(engine.MessageFilter{Since: time.Unix(1, 0), Until: time.Unix(2, 0)}, 5, 100)
	expect("time range", plan(q, args...), []string{"SEARCH messages USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}, []string{"TEMP B-TREE"})
}
