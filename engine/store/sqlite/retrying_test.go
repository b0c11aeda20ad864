package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

// The Errors view's "retrying" deliveries: QUEUED after a failed attempt. A delivery not
// tried yet, one sent, one given up (ERROR) and one resent after it was sent are not
// retrying; the filter combines with the destination, the channel and the cursor.
func TestListMessagesFindsDeliveriesRetryingAfterAFailedAttempt(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	rec := func(id int64, dest string, st engine.Status, attempts int, errText string) {
		t.Helper()
		r := engine.AttemptResult{MessageID: id, Destination: dest, Status: st, Attempts: attempts, Error: errText, At: time.Now()}
		if st == engine.StatusQueued {
			r.NextAttempt = time.Now().Add(time.Hour)
		}
		if err := s.Record(ctx, []engine.AttemptResult{r}); err != nil {
			t.Fatal(err)
		}
	}
	untried := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	retrying := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	rec(retrying, "epr", engine.StatusQueued, 3, "dial tcp 127.0.0.1:9: connection refused")
	rec(retrying, "fhir", engine.StatusSent, 1, "")
	gaveUp := mustAccept(t, s, newMsg("adt", "epr"))
	rec(gaveUp, "epr", engine.StatusError, 5, "connection refused")
	resentAfterSuccess := mustAccept(t, s, newMsg("adt", "epr"))
	rec(resentAfterSuccess, "epr", engine.StatusSent, 1, "")
	if _, err := s.Resend(ctx, engine.ResendRequest{MessageID: resentAfterSuccess}); err != nil {
		t.Fatal(err)
	}
	fhirRetrying := mustAccept(t, s, newMsg("lab", "fhir"))
	rec(fhirRetrying, "fhir", engine.StatusQueued, 1, "503 Service Unavailable")
	behind := mustAccept(t, s, newMsg("lab", "fhir")) // waits in order behind the retried head

	ids := func(f engine.MessageFilter) string {
		t.Helper()
		page, err := s.ListMessages(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		var out []int64
		for _, m := range page {
			out = append(out, m.ID)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		name string
		f    engine.MessageFilter
		want []int64
	}{
		{"any destination", engine.MessageFilter{Retrying: true}, []int64{behind, fhirRetrying, retrying}},
		{"destination epr", engine.MessageFilter{Retrying: true, Destination: "epr"}, []int64{retrying}},
		{"destination fhir", engine.MessageFilter{Retrying: true, Destination: "fhir"}, []int64{behind, fhirRetrying}},
		{"channel adt", engine.MessageFilter{Retrying: true, Channel: "adt"}, []int64{retrying}},
		{"with QUEUED", engine.MessageFilter{Retrying: true, DestinationStatus: engine.StatusQueued}, []int64{behind, fhirRetrying, retrying}},
		{"before the newest", engine.MessageFilter{Retrying: true, BeforeID: behind}, []int64{fhirRetrying, retrying}},
	} {
		if got, want := ids(c.f), fmt.Sprint(c.want); got != want {
			t.Errorf("%s: retrying %s, want %s (untried %d, gave up %d, resent after success %d)", c.name, got, want, untried, gaveUp, resentAfterSuccess)
		}
	}
	page, err := s.ListMessages(ctx, engine.MessageFilter{Retrying: true, Destination: "epr"})
	if err != nil || len(page) != 1 {
		t.Fatalf("%v %v", page, err)
	}
	for _, d := range page[0].Destinations {
		if d.Name == "epr" && (d.Attempts != 3 || d.LastError != "dial tcp 127.0.0.1:9: connection refused") {
			t.Errorf("the retrying delivery is listed as %+v", d)
		}
	}
	_, err = s.ListMessages(ctx, engine.MessageFilter{Retrying: true, DestinationStatus: engine.StatusError})
	if !errors.Is(err, engine.ErrBadFilter) {
		t.Errorf("retrying and ERROR: %v, want a bad filter", err)
	}
}

// Retrying messages come from the outbox index, which holds only queued rows (the
// backlog), never from a scan of the messages or of every delivery.
func TestRetryingListUsesTheOutboxIndex(t *testing.T) {
	s := openTest(t, Options{})
	for _, f := range []engine.MessageFilter{
		{Retrying: true, BeforeID: 100},
		{Retrying: true, Destination: "d", Channel: "c"},
	} {
		q, args, err := listSQL(f)
		if err != nil {
			t.Fatal(err)
		}
		p := explain(t, s, q, args...)
		for _, want := range []string{"d USING INDEX deliveries_outbox", "SEARCH messages USING"} {
			if !contains(p, want) {
				t.Errorf("%+v: plan %q lacks %q", f, p, want)
			}
		}
		// Walking the outbox index is one scan allowed (it holds only the backlog); the
		// queues table is the other (a row per destination), each queue's head found
		// through the outbox index.
		rest := strings.ReplaceAll(p, "SCAN d USING INDEX deliveries_outbox", "")
		rest = strings.ReplaceAll(rest, "SCAN q USING COVERING INDEX sqlite_autoindex_queues_1", "")
		if !contains(p, "SEARCH h2 USING COVERING INDEX deliveries_outbox (queue_id=?)") {
			t.Errorf("%+v: plan %q does not find the queues' heads through the outbox index", f, p)
		}
		for _, not := range []string{"TEMP B-TREE", "SCAN"} {
			if contains(rest, not) {
				t.Errorf("%+v: plan %q has %q", f, p, not)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
