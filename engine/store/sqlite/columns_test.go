package sqlite

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

func TestColumnFiltersAreAnsweredFromTheColumnIndex(t *testing.T) {
	s := openTest(t, Options{})
	for _, f := range []engine.MessageFilter{
		{Columns: map[string]string{"mrn": "123"}},
		{Columns: map[string]string{"mrn": "123"}, Channel: "c", BeforeID: 50},
		{Columns: map[string]string{"patient": "SMI*"}},
		{Columns: map[string]string{"patient": "*"}, Status: engine.StatusError},
		{Columns: map[string]string{"mrn": "123", "event": "ADT^A01"}},
		{Columns: map[string]string{"mrn": "123"}, Text: "smith"},
	} {
		q, args, err := listSQL(f)
		if err != nil {
			t.Fatal(err)
		}
		p := explain(t, s, q, args...)
		if !strings.Contains(p, "message_columns_value") || strings.Contains(p, "SCAN message_columns") ||
			strings.Contains(p, "SCAN messages") {
			t.Errorf("filter %v: plan %q does not search message_columns_value", f.Columns, p)
		}
	}
	p := explain(t, s, pageColumnsSQL, "[1,2,3]")
	if !strings.Contains(p, "SEARCH c USING PRIMARY KEY (message_id=?)") {
		t.Errorf("page columns: plan %q does not look each message's columns up by its key", p)
	}
}

// colMsg is an ADT for family with MRN mrn and its columns, received age ago.
func colMsg(control, mrn, family string, age time.Duration) *engine.NewMessage {
	m := agedMsg("adt", control, family, age)
	m.Columns = map[string]string{"mrn": mrn, "patient": family, "event": "ADT^A01"}
	return m
}

func TestColumnsAreStoredWithTheMessageAndFilterTheList(t *testing.T) {
	s := openTest(t, Options{})
	a := mustAccept(t, s, colMsg("C-1", "123", "SMITH", 0))
	b := mustAccept(t, s, colMsg("C-2", "456", "SMYTHE", 0))
	other := newMsg("lab", "epr") // a channel without columns
	c := mustAccept(t, s, other)

	if got := get(t, s, a).Columns; !maps.Equal(got, map[string]string{"mrn": "123", "patient": "SMITH", "event": "ADT^A01"}) {
		t.Fatalf("message %d columns %v", a, got)
	}
	if got := get(t, s, c).Columns; got != nil {
		t.Fatalf("a message without columns got %v", got)
	}
	ms, err := s.ListMessages(context.Background(), engine.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]map[string]string{}
	for _, m := range ms {
		byID[m.ID] = m.Columns
	}
	if byID[b]["patient"] != "SMYTHE" || byID[a]["mrn"] != "123" || byID[c] != nil {
		t.Fatalf("listed columns %v", byID)
	}
	for _, tc := range []struct {
		cols map[string]string
		want []int64
	}{
		{map[string]string{"mrn": "123"}, []int64{a}},
		{map[string]string{"mrn": "12"}, []int64{}},
		{map[string]string{"patient": "SM*"}, []int64{b, a}},
		{map[string]string{"patient": "SMY*"}, []int64{b}},
		{map[string]string{"patient": "*"}, []int64{b, a}},
		{map[string]string{"patient": "SM*", "mrn": "456"}, []int64{b}},
		{map[string]string{"event": "ADT^A01", "mrn": "999"}, []int64{}},
	} {
		if got := list(t, s, engine.MessageFilter{Columns: tc.cols}); !slices.Equal(got, tc.want) {
			t.Errorf("filter %v: got %v, want %v", tc.cols, got, tc.want)
		}
	}
	waitIndexed(t, s, c)
	if got := list(t, s, engine.MessageFilter{Text: "smythe", Columns: map[string]string{"mrn": "456"}}); !slices.Equal(got, []int64{b}) {
		t.Errorf("text and column together: got %v, want %v", got, []int64{b})
	}
	_, err = s.ListMessages(context.Background(), engine.MessageFilter{Columns: map[string]string{"no-such": "1"}})
	if !errors.Is(err, engine.ErrBadFilter) || !strings.Contains(err.Error(), "col.no-such") {
		t.Errorf("a filter on a malformed column name: %v", err)
	}
}

func TestRemovingOrPruningAMessageRemovesItsColumns(t *testing.T) {
	s := openTest(t, Options{})
	// Received in id order, as retention expects.
	pruned := mustAccept(t, s, colMsg("P-1", "333", "PRUNED", 100*day))
	stripped := mustAccept(t, s, colMsg("S-1", "222", "STRIPPED", 40*day))
	removed := mustAccept(t, s, colMsg("R-1", "111", "REMOVED", 2*day))
	kept := mustAccept(t, s, colMsg("K-1", "444", "KEPT", day))
	for _, id := range []int64{removed, stripped, pruned, kept} {
		send(t, s, id, engine.StatusSent)
	}
	waitIndexed(t, s, kept)
	if err := s.RemoveMessage(context.Background(), removed, false, "test"); err != nil {
		t.Fatal(err)
	}
	rep := prune(t, s, engine.Retention{Content: 30 * day, Messages: 90 * day}, false)
	if got := rep.Channels["adt"]; got.Content != 1 || got.Messages != 1 {
		t.Fatalf("prune report %+v, want one message's content and one message removed", rep)
	}
	for _, id := range []int64{removed, stripped, pruned} {
		if n := countRows(t, s, `SELECT count(*) FROM message_columns WHERE message_id = ?`, id); n != 0 {
			t.Errorf("message %d still has %d column rows", id, n)
		}
	}
	if got := list(t, s, engine.MessageFilter{Columns: map[string]string{"event": "ADT^A01"}}); !slices.Equal(got, []int64{kept}) {
		t.Errorf("filtering on a column finds %v, want only the kept message %d", got, kept)
	}
	if got := get(t, s, stripped).Columns; got != nil {
		t.Errorf("a message whose content was removed still shows columns %v", got)
	}
}
