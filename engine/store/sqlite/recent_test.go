package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"junction/engine"
)

// Pending hands out the same deliveries whether their content comes from the recent
// cache or from the store (after a restart, or for messages the cache no longer holds).
func TestPendingRecentMatchesStore(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	path := s.Path()
	var ids []int64
	for i := 0; i < 6; i++ {
		m := newMsg("adt", "epr", "fhir")
		m.ControlID = fmt.Sprintf("CTRL%d", i)
		m.Raw = []byte(fmt.Sprintf("MSH|^~\\&|LAB|RX1|EPR|RX1|20240101||ORU^R01|CTRL%d|P|2.4\r", i))
		switch i % 3 {
		case 0:
			m.Transformed = []byte(fmt.Sprintf("TRANSFORMED %d", i))
		case 1:
			m.Meta = nil
		}
		ids = append(ids, mustAccept(t, s, m))
	}
	if got := len(s.recent.byID); got != len(ids) {
		t.Fatalf("recent holds %d messages, want %d", got, len(ids))
	}
	fromRecent, err := s.Pending(ctx, "adt", "fhir", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// One message missing from the cache: the whole batch is read from the store.
	s.recent.remove(ids[2])
	mixed, err := s.Pending(ctx, "adt", "fhir", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if len(s2.recent.byID) != 0 {
		t.Fatal("a new store starts with an empty cache")
	}
	fromStore, err := s2.Pending(ctx, "adt", "fhir", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromStore) != len(ids) {
		t.Fatalf("store: %d deliveries, want %d", len(fromStore), len(ids))
	}
	for i := range fromStore {
		if fromStore[i].MessageID != ids[i] {
			t.Fatalf("delivery %d is message %d, want %d", i, fromStore[i].MessageID, ids[i])
		}
	}
	if !reflect.DeepEqual(fromRecent, fromStore) {
		t.Errorf("from the cache:\n%+v\nfrom the store:\n%+v", fromRecent, fromStore)
	}
	if !reflect.DeepEqual(mixed, fromStore) {
		t.Errorf("with a miss:\n%+v\nfrom the store:\n%+v", mixed, fromStore)
	}
}

// A message leaves the cache once every delivery is final, or when it is removed.
func TestRecentForgetsFinishedMessages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	a := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	b := mustAccept(t, s, newMsg("adt", "epr"))
	record := func(id int64, dest string, st engine.Status) {
		t.Helper()
		if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: dest, Status: st, Attempts: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	record(a, "epr", engine.StatusSent)
	if s.recent.get(a) == nil {
		t.Fatal("message a left the cache while its fhir delivery is queued")
	}
	record(a, "fhir", engine.StatusQueued) // a retry: still queued
	if s.recent.get(a) == nil {
		t.Fatal("message a left the cache while a retry is due")
	}
	record(a, "fhir", engine.StatusError)
	if s.recent.get(a) != nil {
		t.Fatal("message a is still cached with every delivery final")
	}
	if err := s.RemoveMessage(ctx, b, true, "test"); err != nil {
		t.Fatal(err)
	}
	if s.recent.get(b) != nil {
		t.Fatal("a removed message's content is still cached")
	}
	// Filtered and ERROR messages have no deliveries and are never cached.
	f := newMsg("adt")
	f.Status = engine.StatusFiltered
	if id := mustAccept(t, s, f); s.recent.get(id) != nil {
		t.Fatal("a filtered message was cached")
	}
}

func TestRecentBounds(t *testing.T) {
	c := newRecentContent()
	for id := int64(1); id <= recentMaxEntries+100; id++ {
		c.add(id, &recentEntry{content: []byte("x")})
	}
	if len(c.byID) != recentMaxEntries {
		t.Fatalf("%d entries, want the bound %d", len(c.byID), recentMaxEntries)
	}
	if c.get(100) != nil || c.get(101) == nil || c.get(recentMaxEntries+100) == nil {
		t.Fatal("eviction is not oldest first")
	}

	c = newRecentContent()
	big := make([]byte, recentMaxBytes/32)
	for id := int64(1); id <= 100; id++ {
		c.add(id, &recentEntry{content: big})
	}
	if c.bytes > recentMaxBytes || len(c.byID) == 0 || c.get(100) == nil {
		t.Fatalf("%d bytes in %d entries, bound %d", c.bytes, len(c.byID), recentMaxBytes)
	}
	c.add(1000, &recentEntry{content: make([]byte, recentMaxBytes/8)})
	if c.get(1000) != nil {
		t.Fatal("a message too large for the cache was kept")
	}

	// Entries added and removed in turn (the normal flow) leave no trail behind.
	c = newRecentContent()
	for id := int64(1); id <= 100000; id++ {
		c.add(id, &recentEntry{content: []byte("x")})
		if id > 10 {
			c.remove(id - 10)
		}
	}
	if len(c.byID) != 10 || len(c.order)-c.head > 2*10+1024 {
		t.Fatalf("%d entries, %d ids in order", len(c.byID), len(c.order)-c.head)
	}
	var sum int
	for _, e := range c.byID {
		sum += e.size()
	}
	if sum != c.bytes {
		t.Fatalf("bytes %d, entries add up to %d", c.bytes, sum)
	}
}

// One Record call with results for several messages sets each message's own status.
func TestRecordManyMessagesStatuses(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, mustAccept(t, s, newMsg("adt", "epr")))
	}
	statuses := []engine.Status{engine.StatusSent, engine.StatusError, engine.StatusQueued, engine.StatusSent, engine.StatusError}
	var results []engine.AttemptResult
	for i, id := range ids {
		results = append(results, engine.AttemptResult{MessageID: id, Destination: "epr", Status: statuses[i], Attempts: 1})
	}
	if err := s.Record(ctx, results); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if d := get(t, s, id); d.Status != statuses[i] {
			t.Errorf("message %d: status %s, want %s", id, d.Status, statuses[i])
		}
	}
	checkCounters(t, s)
}
