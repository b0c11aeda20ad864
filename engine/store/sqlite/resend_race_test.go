package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"junction/engine"
)

func TestAMessageWhoseContentRetentionRemovedIsNotResent(t *testing.T) {
	s := openTest(t, Options{})
	id := mustAccept(t, s, agedMsg("adt", "OLD-1", "Oldname", 40*day))
	send(t, s, id, engine.StatusSent)
	waitIndexed(t, s, id)
	if got := prune(t, s, engine.Retention{Content: 30 * day}, false).Channels["adt"]; got.Content != 1 {
		t.Fatalf("report %+v, want the message's content removed", got)
	}

	for _, content := range [][]byte{nil, []byte("MSH|edited")} {
		names, err := s.Resend(context.Background(), engine.ResendRequest{MessageID: id, Content: content, Detail: "test"})
		if !errors.Is(err, engine.ErrContentRemoved) || !errors.Is(err, engine.ErrNoDeliveries) {
			t.Fatalf("resend (edited %v) of a message without content: %v, %v; want ErrContentRemoved and ErrNoDeliveries", content != nil, names, err)
		}
		if want := fmt.Sprintf("message %d: its content was removed by the channel's retention; it cannot be resent", id); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q, want it to start with %q", err, want)
		}
	}
	m := get(t, s, id)
	if d := destByName(t, m, "epr"); m.Status != engine.StatusSent || d.Status != engine.StatusSent {
		t.Errorf("after the refused resends: message %s, delivery %s; want both still SENT", m.Status, d.Status)
	}
	if n := countRows(t, s, `SELECT count(*) FROM deliveries WHERE status = 'QUEUED'`); n != 0 {
		t.Errorf("%d deliveries QUEUED, want none", n)
	}
	if n := countRows(t, s, `SELECT count(*) FROM events WHERE kind LIKE 'resend%'`); n != 0 {
		t.Errorf("%d resend events logged for resends refused", n)
	}
}

// Resends racing a retention pass that strips the same messages (the pass walks oldest
// first; once it has stripped the oldest, the resends go newest first, to meet it, then
// over all again once the pass is done):
// whichever commits first wins, and no delivery is ever left QUEUED on a message without
// content. How many each side wins varies from run to run; the invariant does not.
func TestResendsRacingRetentionNeverQueueAMessageWithoutContent(t *testing.T) {
	s := openTest(t, Options{})
	var ids []int64
	for i := range 300 {
		id := mustAccept(t, s, agedMsg("adt", fmt.Sprintf("R-%d", i), "Racer", 40*day))
		send(t, s, id, engine.StatusSent)
		ids = append(ids, id)
	}
	waitIndexed(t, s, ids[len(ids)-1])

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(ids)+1)
	resend := func(id int64) {
		if _, err := s.Resend(context.Background(), engine.ResendRequest{MessageID: id, Detail: "race"}); err != nil && !errors.Is(err, engine.ErrContentRemoved) {
			errs <- fmt.Errorf("resend %d: %w", id, err)
		}
	}
	var rep engine.PruneReport
	passDone := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(passDone)
		var err error
		rep, err = s.Prune(context.Background(), engine.PruneOptions{Channels: map[string]engine.Retention{"adt": {Content: 30 * day}}, Batch: 7})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		for stripped := false; !stripped; {
			select {
			case <-passDone:
				stripped = true
			default:
				var n int
				if err := s.rdb.QueryRow(`SELECT count(*) FROM contents WHERE message_id = ?`, ids[0]).Scan(&n); err != nil {
					errs <- err
					return
				}
				stripped = n == 0
				runtime.Gosched()
			}
		}
		for i := len(ids) - 1; i >= 0; i-- {
			resend(ids[i])
		}
	}()
	wg.Wait()
	for _, id := range ids {
		resend(id)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("the pass stripped %d of %d messages", rep.Channels["adt"].Content, len(ids))
	stranded := countRows(t, s, `SELECT count(*) FROM deliveries d WHERE d.status = 'QUEUED'
		AND NOT EXISTS (SELECT 1 FROM contents c WHERE c.message_id = d.id >> 8)`)
	if stranded != 0 {
		t.Errorf("%d deliveries QUEUED on messages whose content retention removed", stranded)
	}
}
