package sqlite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"junction/engine"
)

// The queue worker (engine/dispatch.go) against the real store: how many of its sends
// may be unrecorded at once (what a crash sends again), and what it does while results
// cannot be recorded.

func init() {
	engine.RegisterSource(engine.SourceSpec{Type: "test-nothing", Summary: "takes no messages: tests queue them with Accept",
		Build: func(*engine.Node, *engine.Channel, *engine.Engine) {}})
	engine.RegisterDestination(engine.DestinationSpec{Type: "test-probe", Summary: "a destination a test watches",
		Fields: []engine.FieldSpec{{Name: "probe", Type: "string", Required: true}},
		Build: func(n *engine.Node, _ *engine.Engine) engine.Destination {
			p, _ := probes.Load(n.String("probe", true, ""))
			d, _ := p.(engine.Destination)
			return d
		}})
}

// probes are the test-probe destinations by name (the test's name).
var probes sync.Map

// probe records what it is sent and answers success. onSend, when set, runs first with
// the message ids sent before this one.
type probe struct {
	mu     sync.Mutex
	sent   []int64
	onSend func(id int64, before []int64)
}

func (p *probe) Send(_ context.Context, dl *engine.Delivery) engine.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.onSend != nil {
		p.onSend(dl.MessageID, p.sent)
	}
	p.sent = append(p.sent, dl.MessageID)
	return engine.Outcome{}
}

func (p *probe) sends() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

// startProbeEngine runs an engine whose channel "lab" has one destination, "probe",
// delivering to p, with s as its store.
func startProbeEngine(t *testing.T, s *Store, p *probe) {
	t.Helper()
	probes.Store(t.Name(), p)
	t.Cleanup(func() { probes.Delete(t.Name()) })
	cfg := fmt.Sprintf(`channels:
  - name: lab
    source: { type: test-nothing }
    destinations:
      - name: probe
        type: test-probe
        probe: %q
`, t.Name())
	e, err := engine.LoadBytes(filepath.Join(t.TempDir(), "routes.yaml"), []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	e.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := e.Start(s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("engine stop: %v", err)
		}
	})
}

// waitUntil polls cond until it holds; it fails the test after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// queuedCount is the number of QUEUED deliveries in the store.
func queuedCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM deliveries WHERE status = 'QUEUED'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// acceptLab queues n messages to lab's probe and returns their ids.
func acceptLab(t *testing.T, s *Store, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = mustAccept(t, s, newMsg("lab", "probe"))
	}
	return ids
}

// checkSentOnceInOrder fails unless sent is ids: every message once, in queue order.
func checkSentOnceInOrder(t *testing.T, sent, ids []int64) {
	t.Helper()
	if !slices.Equal(sent, ids) {
		extra := len(sent) - len(ids)
		t.Errorf("sent %d messages (%d more than queued), want each of the %d once and in order; first sends: %v",
			len(sent), extra, len(ids), sent[:min(len(sent), 20)])
	}
}

// However long the queue, the worker starts a send only while fewer than
// engine.MaxUnrecorded of its earlier sends wait for their results to be committed: a
// crash at any moment sends at most MaxUnrecorded messages again (this one included).
func TestAWorkerKeepsFewerThanMaxUnrecordedEarlierSendsUnrecorded(t *testing.T) {
	s := openTest(t, Options{})
	ids := acceptLab(t, s, 3*batchOfPending)
	worst, worstAt := 0, int64(0)
	p := &probe{onSend: func(id int64, before []int64) {
		// deliveries.id is message id << 8 (one destination: ordinal 0).
		rows := make([]int64, len(before))
		for i, b := range before {
			rows[i] = b << 8
		}
		var unrecorded int
		if err := s.rdb.QueryRow(`SELECT count(*) FROM deliveries
			WHERE id IN (SELECT value FROM json_each(?)) AND status = 'QUEUED'`, int64List(rows)).Scan(&unrecorded); err != nil {
			t.Error(err)
		}
		if unrecorded > worst {
			worst, worstAt = unrecorded, id
		}
	}}
	startProbeEngine(t, s, p)
	waitUntil(t, "every message to be sent and recorded", func() bool { return queuedCount(t, s) == 0 })
	checkSentOnceInOrder(t, p.sends(), ids)
	p.mu.Lock()
	defer p.mu.Unlock()
	if worst >= engine.MaxUnrecorded {
		t.Errorf("when message %d was sent, %d earlier sends were not recorded; want fewer than %d", worstAt, worst, engine.MaxUnrecorded)
	}
	t.Logf("at most %d earlier sends unrecorded at a send", worst)
	checkCounters(t, s)
}

// batchOfPending is the engine's read size (dispatch.go's batchSize): queues longer
// than it are read in several batches.
const batchOfPending = 256

// When the store cannot record results (a full disk), the worker sends nothing more until
// it can: then it records the results it holds, so the messages it sent are not sent
// again, and goes on.
func TestAWorkerStopsSendingWhileItsResultsCannotBeRecorded(t *testing.T) {
	s := openTest(t, Options{})
	ids := acceptLab(t, s, 2*batchOfPending)
	const fullAt = 100 // the disk fills while the 100th message is sent
	var (
		full    atomic.Bool
		mu      sync.Mutex
		failed  = map[int64]*recordOp{} // message id → the first Record request that failed it
		retries int                     // later Record requests naming a message already failed
	)
	s.w.hook = func(op operation, stage string) error {
		r, ok := op.(*recordOp)
		if stage != "applied" || !ok || !full.Load() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		retry := false
		for _, res := range r.results {
			if first, ok := failed[res.messageID]; !ok {
				failed[res.messageID] = r
			} else if first != r {
				retry = true
			}
		}
		if retry {
			retries++
		}
		return sqlite3.Error{Code: sqlite3.ErrFull}
	}
	p := &probe{onSend: func(_ int64, before []int64) {
		if len(before)+1 == fullAt {
			full.Store(true)
		}
	}}
	startProbeEngine(t, s, p)
	// The worker tries again to record what failed, waits, tries again: by then it has
	// had every chance to send more.
	waitUntil(t, "two attempts to record the failed results again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return retries >= 2
	})
	if n := len(p.sends()); n > fullAt-1+engine.MaxUnrecorded {
		t.Errorf("%d messages sent after results could no longer be recorded; want at most %d", n-fullAt+1, engine.MaxUnrecorded)
	}
	full.Store(false) // room on the disk again
	waitUntil(t, "every message to be sent and recorded", func() bool { return queuedCount(t, s) == 0 })
	checkSentOnceInOrder(t, p.sends(), ids)
	checkCounters(t, s)
}
