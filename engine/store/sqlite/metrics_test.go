package sqlite

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
)

// The age of a queue is its head's: the oldest message still QUEUED on it, found by one
// probe of the outbox index per queue; a queue whose messages are all delivered has none.
func TestOldestQueuedIsTheHeadOfEachQueue(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	at := func(sec int64) time.Time { return time.Unix(1700000000+sec, 0) }
	var ids []int64
	for _, sec := range []int64{10, 20, 30} {
		m := newMsg("adt", "lab", "archive")
		m.ReceivedAt = at(sec)
		ids = append(ids, mustAccept(t, s, m))
	}
	// archive delivers everything; lab delivers its head: its oldest waiting is the second.
	var results []engine.AttemptResult
	for _, id := range ids {
		results = append(results, engine.AttemptResult{MessageID: id, Destination: "archive", Status: engine.StatusSent, Attempts: 1, At: time.Now()})
	}
	results = append(results, engine.AttemptResult{MessageID: ids[0], Destination: "lab", Status: engine.StatusSent, Attempts: 1, At: time.Now()})
	if err := s.Record(ctx, results); err != nil {
		t.Fatal(err)
	}
	got, err := s.OldestQueued(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Channel != "adt" || got[0].Destination != "lab" || !got[0].Oldest.Equal(at(20)) {
		t.Fatalf("oldest queued %+v, want adt/lab received at %v only", got, at(20))
	}

	p := explain(t, s, oldestQueuedSQL)
	if !strings.Contains(p, "deliveries_outbox") || strings.Contains(p, "SCAN d") || strings.Contains(p, "SCAN m") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("plan %q: want one outbox index probe per queue, no scan of deliveries or messages", p)
	}
}

// The commit observer hears of every transaction the writer commits: accepted messages
// with an fsync (full), delivery results alone without (normal), with how many requests
// each held; the requests it is told of are all those answered.
func TestTheCommitObserverHearsEveryCommit(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var mu sync.Mutex
	requests := map[bool]int{}
	commits := map[bool]int{}
	s.SetCommitObserver(func(took time.Duration, n int, fsync bool) {
		if took <= 0 || n <= 0 {
			t.Errorf("observed a commit of %d requests taking %v", n, took)
		}
		mu.Lock()
		requests[fsync] += n
		commits[fsync]++
		mu.Unlock()
	})
	msgs := make([]*engine.NewMessage, 20)
	for i := range msgs {
		msgs[i] = newMsg("adt", "lab")
	}
	ids, errs := acceptTogether(s, msgs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: ids[0], Destination: "lab", Status: engine.StatusSent, Attempts: 1, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s.SetCommitObserver(nil)
	mustAccept(t, s, newMsg("adt", "lab")) // not observed
	mu.Lock()
	defer mu.Unlock()
	if requests[true] != 20 || commits[true] < 1 || commits[true] > 20 {
		t.Errorf("full commits: %d holding %d requests, want 1 to 20 holding the 20 accepted messages", commits[true], requests[true])
	}
	if requests[false] != 1 || commits[false] != 1 {
		t.Errorf("normal commits: %d holding %d requests, want the one delivery result's", commits[false], requests[false])
	}
}
