package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"junction/engine"
)

// holdWriter keeps the writer busy inside a transaction until release is called, so that
// the requests queued meanwhile are taken together, in one batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	inside, out := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.submit(context.Background(), &request{op: funcOp(func(*writer) (error, error) {
			close(inside)
			<-out
			return nil, nil
		})})
	}()
	<-inside
	return func() {
		close(out)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// waitQueued waits until n requests wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	waitUntil(t, "requests queued for the writer", func() bool { return len(s.reqs) >= n })
}

// recordAsync runs Record in the background; its answer arrives on the channel.
func recordAsync(s *Store, results ...engine.AttemptResult) <-chan error {
	c := make(chan error, 1)
	go func() { c <- s.Record(context.Background(), results) }()
	return c
}

func sent(id int64, dest string) engine.AttemptResult {
	return engine.AttemptResult{MessageID: id, Destination: dest, Status: engine.StatusSent, Attempts: 1, At: time.Now()}
}

// The workers' results arrive as many small Records. Taken in one transaction, they are
// applied together, yet each succeeds or fails on its own: one naming an unknown delivery
// stores nothing of itself and leaves the others alone.
func TestRecordsInOneTransactionSucceedOrFailEachOnTheirOwn(t *testing.T) {
	s := openTest(t, Options{})
	a := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	b := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	c := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	retry := engine.AttemptResult{MessageID: a, Destination: "fhir", Status: engine.StatusQueued, Attempts: 1,
		Error: "connection refused", NextAttempt: time.Now().Add(time.Minute), At: time.Now()}

	release := holdWriter(t, s)
	answers := []<-chan error{
		recordAsync(s, sent(a, "epr")),
		recordAsync(s, sent(b, "epr"), sent(b, "nowhere")),
		recordAsync(s, sent(c, "epr"), sent(c, "fhir")),
		recordAsync(s, retry),
	}
	waitQueued(t, s, len(answers))
	commits := s.commits.Load()
	release()
	for i, ch := range answers {
		err := <-ch
		if i == 1 {
			if !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("Record naming an unknown destination: %v, want ErrNotFound", err)
			}
		} else if err != nil {
			t.Errorf("Record %d: %v", i, err)
		}
	}
	if n := s.commits.Load() - commits; n != 2 {
		t.Errorf("%d commits for the held transaction and the four Records, want 2", n)
	}
	for _, want := range []struct {
		id          int64
		status      engine.Status
		epr, fhir   engine.Status
		fhirAttempt int
	}{
		{a, engine.StatusQueued, engine.StatusSent, engine.StatusQueued, 1},
		{b, engine.StatusQueued, engine.StatusQueued, engine.StatusQueued, 0},
		{c, engine.StatusSent, engine.StatusSent, engine.StatusSent, 1},
	} {
		d := get(t, s, want.id)
		epr, fhir := destByName(t, d, "epr"), destByName(t, d, "fhir")
		if d.Status != want.status || epr.Status != want.epr || fhir.Status != want.fhir || fhir.Attempts != want.fhirAttempt {
			t.Errorf("message %d is %s (epr %s, fhir %s after %d attempts), want %s (%s, %s after %d)", want.id,
				d.Status, epr.Status, fhir.Status, fhir.Attempts, want.status, want.epr, want.fhir, want.fhirAttempt)
		}
	}
	// Only c is done with: the workers' content cache lets it go.
	if s.recent.get(a) == nil || s.recent.get(b) == nil || s.recent.get(c) != nil {
		t.Errorf("content cache holds a %v, b %v, c %v; want a and b only", s.recent.get(a) != nil, s.recent.get(b) != nil, s.recent.get(c) != nil)
	}
	checkCounters(t, s)
}

// A worker that does not know whether a Record committed records it again: that changes
// nothing.
func TestRecordingAResultAgainChangesNothing(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, newMsg("adt", "epr"))
	ctx := context.Background()
	for range 2 {
		if err := s.Record(ctx, []engine.AttemptResult{sent(id, "epr")}); err != nil {
			t.Fatal(err)
		}
	}
	d := get(t, s, id)
	if epr := destByName(t, d, "epr"); d.Status != engine.StatusSent || epr.Attempts != 1 {
		t.Errorf("message %s, epr %s after %d attempts; want SENT after 1", d.Status, epr.Status, epr.Attempts)
	}
	qs, err := s.Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || qs[0].Counts != (engine.DestinationCounts{Sent: 1}) {
		t.Errorf("queues %+v, want adt/epr with one sent", qs)
	}
	checkCounters(t, s)
}

// Results queued with accepted messages commit first, in their own transaction, which
// needs no fsync: the workers waiting for them do not wait for the messages' fsync.
func TestResultsCommitAheadOfAcceptedMessages(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, newMsg("adt", "epr"))
	release := holdWriter(t, s)
	recorded := recordAsync(s, sent(id, "epr"))
	waitQueued(t, s, 1)
	accepted := make(chan error, 1)
	go func() {
		_, err := s.Accept(context.Background(), newMsg("adt", "epr"))
		accepted <- err
	}()
	waitQueued(t, s, 2)
	commits := s.commits.Load()
	release()
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if n := s.commits.Load() - commits; n != 3 {
		t.Errorf("%d commits for the held transaction, a result and an accepted message; want 3", n)
	}
	if d := get(t, s, id); d.Status != engine.StatusSent {
		t.Errorf("message %d is %s, want SENT", id, d.Status)
	}
	checkCounters(t, s)
}
