package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
)

// holdingReceiver answers 200 to every request but one: the holdAt-th, which it counts as
// received and then holds unanswered until the sender goes away.
type holdingReceiver struct {
	holdAt int
	held   chan struct{} // closed once the holdAt-th request has arrived

	mu  sync.Mutex
	n   int
	got map[string]int // requests per control id
}

func startHoldingReceiver(t *testing.T, addr string, holdAt int) *holdingReceiver {
	t.Helper()
	var ln net.Listener
	var err error
	waitFor(t, waitDefault, "listening on "+addr, func() (bool, string) {
		ln, err = net.Listen("tcp", addr)
		return err == nil, fmt.Sprint(err)
	})
	r := &holdingReceiver{holdAt: holdAt, held: make(chan struct{}), got: map[string]int{}}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *holdingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	n := r.n
	r.got[controlIDOf(string(b))]++
	r.mu.Unlock()
	if n == r.holdAt {
		close(r.held)
		<-req.Context().Done() // the sender was killed
		return
	}
	w.WriteHeader(http.StatusOK)
}

// counts returns the requests per control id so far.
func (r *holdingReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

// Story 8b: junction is killed (-9) in the middle of a long queue's delivery. After the
// restart it sends again only the messages whose results it had not recorded: at most
// engine.MaxUnrecorded, not a whole batch of the queue.
func TestAKillDuringDeliverySendsAgainOnlyTheUnrecordedSends(t *testing.T) {
	t.Parallel()
	const n, holdAt = 400, 200 // holdAt lies inside the first batch the worker reads (256)
	recvAddr := freeAddr(t)    // nothing listens here until every message is queued
	j := startJunction(t, routesWith(
		httpChannel("ed-adt", "emergency-care", "http://{{RECV}}/in", "{ backoff: 20ms, max_backoff: 100ms }"),
	), map[string]string{"RECV": recvAddr})
	var ids []string
	for i := range n {
		cid := fmt.Sprintf("E2E-W-%04d", i)
		r := postHL7(t, j.IngestURL(), "emergency-care", adt(cid, "Smith"))
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "\rMSA|AA|"+cid+"|") {
			t.Fatalf("message %d: status %d body %q", i, r.Status, r.Body)
		}
		ids = append(ids, cid)
	}
	// The head has failed (nothing listened), so the worker reads the queue from its head
	// in one batch once the receiver is there.
	recv := startHoldingReceiver(t, recvAddr, holdAt)
	waitFor(t, waitDefault, fmt.Sprintf("request %d at the receiver", holdAt), func() (bool, string) {
		select {
		case <-recv.held:
			return true, ""
		default:
			return false, fmt.Sprintf("%d control ids received", len(recv.counts()))
		}
	})
	j.Kill()

	j.Start()
	waitFor(t, 90*time.Second, "the queue to drain after the restart", func() (bool, string) {
		q := j.Messages(t, "status=QUEUED&limit=1")
		return len(q) == 0, fmt.Sprintf("%d QUEUED listed", len(q))
	})
	got := recv.counts()
	again := 0
	for _, cid := range ids {
		switch c := got[cid]; {
		case c == 0:
			t.Errorf("%s never reached the receiver", cid)
		case c > 1:
			again += c - 1
		}
	}
	if again > engine.MaxUnrecorded {
		t.Errorf("%d messages were sent again after the restart; want at most %d (engine.MaxUnrecorded)", again, engine.MaxUnrecorded)
	}
	t.Logf("%d of %d messages sent again after kill -9 at request %d", again, n, holdAt)
	j.Stop()
}
