package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

func TestTheAlertQueriesReadOnlyWhatTheyAnswerThroughTheirIndexes(t *testing.T) {
	s := openTest(t, Options{})
	plan := func(q string, args ...any) string { t.Helper(); return explain(t, s, q, args...) }
	for _, c := range []struct {
		name, sql string
		want      string
	}{
		{"ErrorCounts", errorCountsSQL, "messages_status (status=? AND id>?)"},
		{"AlertQueues", alertQueuesSQL, "deliveries_outbox (queue_id=?)"},
		{"AlertQueues' recovery", alertQueuesSQL, "messages_channel (channel=? AND id>? AND id<?)"},
		{"AlertQueues' recovery deliveries", alertQueuesSQL, "SEARCH s USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
		{"LastReceived", lastReceivedSQL, "messages_channel (channel=?)"},
	} {
		args := make([]any, strings.Count(c.sql, "?"))
		for i := range args {
			args[i] = 1
		}
		p := plan(c.sql, args...)
		if !strings.Contains(p, c.want) {
			t.Errorf("%s: plan %q does not use %q", c.name, p, c.want)
		}
	}
}

func TestAlertStateAndItsAuditEventSurviveReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	since := time.Date(2030, 1, 7, 7, 0, 0, 0, time.UTC)
	fired := since.Add(5 * time.Minute)
	st := engine.AlertState{Alert: "lab-down", Subject: "lab/lis", Channel: "lab", Destination: "lis", Since: since,
		ActiveSince: &fired, Notified: &fired, Detail: "connection refused"}
	ev := &engine.Event{At: fired, Channel: "lab", Destination: "lis", Kind: engine.EventAlertFiring, Detail: "alert lab-down"}
	if err := s.PutAlertState(ctx, st, ev); err != nil {
		t.Fatal(err)
	}
	pending := engine.AlertState{Alert: "silent", Subject: "adt", Channel: "adt", Since: since}
	if err := s.PutAlertState(ctx, pending, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sts, err := s.AlertStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("got %d states, want 2: %+v", len(sts), sts)
	}
	got := sts[0]
	if got.Alert != "lab-down" {
		got = sts[1]
	}
	if got.Subject != "lab/lis" || !got.Since.Equal(since) || !got.Active() || !got.ActiveSince.Equal(fired) || !got.Notified.Equal(fired) || got.Detail != "connection refused" {
		t.Errorf("after reopening: %+v", got)
	}
	if e, err := s.LastEvent(ctx, engine.EventAlertFiring); err != nil || e.Destination != "lis" || !e.At.Equal(fired) {
		t.Errorf("firing event: %+v, %v", e, err)
	}
	res := &engine.Event{Channel: "lab", Destination: "lis", Kind: engine.EventAlertResolved, Detail: "alert lab-down"}
	if err := s.DeleteAlertState(ctx, "lab-down", "lab/lis", res); err != nil {
		t.Fatal(err)
	}
	if sts, _ := s.AlertStates(ctx); len(sts) != 1 || sts[0].Alert != "silent" || sts[0].Active() {
		t.Errorf("after clearing lab-down: %+v", sts)
	}
	if _, err := s.LastEvent(ctx, engine.EventAlertResolved); err != nil {
		t.Errorf("no resolved event: %v", err)
	}
}
