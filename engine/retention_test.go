package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"junction/engine"
)

const day = 24 * time.Hour

const retentionRoutes = `store: { path: junction.db }
retention:
  content: 30d
  messages: 90d
channels:
  - name: short
    source: { type: ingest, listen: "127.0.0.1:0", domain: short }
    retention: { content: 12h }
    destinations: [{ name: out, type: file, dir: out/short }]
  - name: plain
    source: { type: ingest, listen: "127.0.0.1:0", domain: plain }
    destinations: [{ name: out, type: file, dir: out/plain }]
  - name: forever
    source: { type: ingest, listen: "127.0.0.1:0", domain: forever }
    retention: { content: forever, messages: forever, max: 400d }
    destinations: [{ name: out, type: file, dir: out/forever }]
`

func TestRetentionIsTheTopLevelDefaultOverriddenKeyByKeyPerChannel(t *testing.T) {
	e, err := engine.LoadBytes("routes.yaml", []byte(retentionRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if want := (engine.Retention{Content: 30 * day, Messages: 90 * day}); e.RetentionDefault() != want {
		t.Errorf("top: %+v, want %+v", e.RetentionDefault(), want)
	}
	for name, want := range map[string]engine.Retention{
		"short":   {Content: 12 * time.Hour, Messages: 90 * day},
		"plain":   {Content: 30 * day, Messages: 90 * day},
		"forever": {Max: 400 * day},
	} {
		if got := e.Channel(name).Retention; got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	if e, err := engine.LoadBytes("routes.yaml", []byte(destFilterRoutes)); err != nil || e.RetentionConfigured() {
		t.Errorf("without retention: everything is kept for ever (configured %v, %v)", e != nil && e.RetentionConfigured(), err)
	}
}

func TestRetentionMistakesAreReportedAtTheirLines(t *testing.T) {
	for _, c := range []struct {
		name, routes, want string
	}{
		{"not an age", "retention:\n  content: 30 days\n", `routes.yaml:2: retention.content: expected an age such as 30d, 12h or forever, got "30 days"`},
		{"a zero age", "retention:\n  messages: 0d\n", `routes.yaml:2: retention.messages: expected an age`},
		{"milliseconds", "retention:\n  max: 500ms\n", `routes.yaml:2: retention.max: expected an age`},
		{"an unknown key", "retention:\n  contents: 30d\n", `routes.yaml:2: retention: unknown key "contents" (expected one of: content, max, messages)`},
		{"messages before content", "retention:\n  content: 30d\n  messages: 7d\n", `routes.yaml:3: retention.messages: messages (7d) must not be shorter than content (30d)`},
		{"max before messages", "retention:\n  messages: 90d\n  max: 30d\n", `routes.yaml:3: retention.max: max (30d) must not be shorter than messages (90d)`},
		{"a channel's content past the default's messages", "retention:\n  messages: 10d\n",
			`routes.yaml:7: channels[0].retention.content: messages (10d, the top-level retention's) must not be shorter than content (30d)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			routes := c.routes + `channels:
  - name: a
    source: { type: ingest, listen: "127.0.0.1:0", domain: a }
`
			if strings.HasPrefix(c.name, "a channel's") {
				routes += "    retention:\n      content: 30d\n"
			}
			_, err := engine.LoadBytes("routes.yaml", []byte(routes))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestAgesAreDaysHoursMinutesOrSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * day, "12h": 12 * time.Hour, "90m": 90 * time.Minute, "45s": 45 * time.Second, "1h30m": 90 * time.Minute, "forever": 0} {
		if got, err := engine.ParseAge(in); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
		if got, _ := engine.ParseAge(engine.FormatAge(want)); got != want {
			t.Errorf("FormatAge(%v) = %s does not read back", want, engine.FormatAge(want))
		}
	}
	for _, bad := range []string{"", "d", "-1d", "1.5d", "10", "1w", "5ns", "0s"} {
		if _, err := engine.ParseAge(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}

// The engine's pruner runs in the background: while messages keep being accepted (none
// refused), it removes the old ones and the content of the less old ones, and leaves an
// audit event.
func TestTheEnginesPrunerRemovesOldMessagesWhileNewOnesAreAccepted(t *testing.T) {
	every, first := engine.PruneEvery, engine.PruneFirst
	engine.PruneEvery, engine.PruneFirst = 20*time.Millisecond, 0
	t.Cleanup(func() { engine.PruneEvery, engine.PruneFirst = every, first })
	eng, store, _ := startRoutes(t, retentionRoutes)
	ctx := context.Background()
	ch := eng.Channel("plain")
	process := func(age time.Duration) engine.Result {
		in := &engine.Inbound{DataType: "Hl7v2", Body: []byte(adtMsg)}
		if age > 0 {
			in.ReceivedAt = time.Now().Add(-age)
		}
		return ch.Process(ctx, in)
	}
	var old, older []int64
	for i := 0; i < 20; i++ {
		older = append(older, process(100*day).MessageID)
	}
	for i := 0; i < 20; i++ {
		old = append(old, process(40*day).MessageID)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refused []engine.Result
	accepted := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res := process(0)
			mu.Lock()
			if res.Accepted() {
				accepted++
			} else {
				refused = append(refused, res)
			}
			mu.Unlock()
		}
	}()
	gone := func(id int64) bool {
		_, err := store.GetMessage(ctx, id)
		return errors.Is(err, engine.ErrNotFound)
	}
	stripped := func(id int64) bool {
		m, err := store.GetMessage(ctx, id)
		return err == nil && m.ContentRemoved && m.Status == engine.StatusSent
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if gone(older[len(older)-1]) && stripped(old[len(old)-1]) {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("the pruner did not prune: newest of the oldest gone %v, its content removed %v", gone(older[len(older)-1]), stripped(old[len(old)-1]))
		}
	}
	close(stop)
	wg.Wait()
	for _, id := range older {
		if !gone(id) {
			t.Errorf("message %d (100 days old) is still there", id)
		}
	}
	for _, id := range old {
		if !stripped(id) {
			t.Errorf("message %d (40 days old) kept its content, or went", id)
		}
	}
	if len(refused) > 0 || accepted == 0 {
		t.Fatalf("accepted %d while pruning, refused %d: %+v", accepted, len(refused), refused[0])
	}
	evs, err := store.(interface {
		Events(context.Context, string, int) ([]engine.Event, error)
	}).Events(ctx, "plain", 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || ev.Kind == "prune" && strings.Contains(ev.Detail, "older than 90d") && strings.Contains(ev.Detail, "pruner")
	}
	if !found {
		t.Errorf("no prune event naming what went: %+v", evs)
	}
}

// A message whose content is gone cannot be resent or reprocessed as it was.
func TestAMessageWithoutContentIsNotResentOrReprocessed(t *testing.T) {
	eng, store, _ := startRoutes(t, retentionRoutes)
	ctx := context.Background()
	res := eng.Channel("plain").Process(ctx, &engine.Inbound{DataType: "Hl7v2", Body: []byte(adtMsg), ReceivedAt: time.Now().Add(-40 * day)})
	waitFinal(t, store, res.MessageID)
	st := store.(interface {
		WaitIndexed(context.Context, int64) error
	})
	if err := st.WaitIndexed(ctx, res.MessageID); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Prune(ctx, store, false, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Resend(ctx, res.MessageID, nil, nil, "test"); err == nil || !strings.Contains(err.Error(), "content was removed") {
		t.Errorf("resend: %v", err)
	}
	if _, err := eng.Reprocess(ctx, res.MessageID, nil, "test"); err == nil || !strings.Contains(err.Error(), "content was removed") {
		t.Errorf("reprocess: %v", err)
	}
}
