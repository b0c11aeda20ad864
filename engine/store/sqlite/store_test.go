package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction/engine"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sub", "dir", "junction.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newMsg(channel string, dests ...string) *engine.NewMessage {
	return &engine.NewMessage{
		Channel:      channel,
		ReceivedAt:   time.Unix(1700000000, 123456789),
		Status:       engine.StatusTransformed,
		DataType:     "Hl7v2",
		ControlID:    "MSG0001",
		SourceDomain: "lab.example",
		OrgCode:      "RX1",
		Meta:         map[string]string{"Content-Type": "x-application/hl7-v2+er7", "X-Peer": "10.0.0.1"},
		Raw:          []byte("MSH|^~\\&|LAB|RX1|EPR|RX1|20240101||ORU^R01|MSG0001|P|2.4\r"),
		Destinations: dests,
	}
}

func mustAccept(t testing.TB, s *Store, m *engine.NewMessage) int64 {
	t.Helper()
	id, err := s.Accept(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func get(t testing.TB, s *Store, id int64) *engine.MessageDetail {
	t.Helper()
	d, err := s.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func destByName(t testing.TB, d *engine.MessageDetail, name string) engine.DestinationStatus {
	t.Helper()
	for _, ds := range d.Destinations {
		if ds.Name == name {
			return ds
		}
	}
	t.Fatalf("message %d has no destination %q: %+v", d.ID, name, d.Destinations)
	return engine.DestinationStatus{}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestAcceptGetRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	m := newMsg("adt", "epr", "fhir")
	m.Transformed = []byte("TRANSFORMED")
	m.OriginalID = 42
	id := mustAccept(t, s, m)
	if id <= 0 {
		t.Fatalf("id %d", id)
	}

	d := get(t, s, id)
	if d.Channel != "adt" || d.Status != engine.StatusQueued || d.ControlID != "MSG0001" ||
		d.DataType != "Hl7v2" || d.SourceDomain != "lab.example" || d.OrgCode != "RX1" ||
		d.OriginalID != 42 || !d.ReceivedAt.Equal(m.ReceivedAt) || d.Raw != string(m.Raw) ||
		str(d.Transformed) != "TRANSFORMED" || d.Meta["X-Peer"] != "10.0.0.1" || len(d.Meta) != 2 {
		t.Fatalf("round trip mismatch: %+v", d)
	}
	if len(d.Destinations) != 2 || d.Destinations[0].Name != "epr" || d.Destinations[1].Name != "fhir" {
		t.Fatalf("destinations %+v", d.Destinations)
	}
	for _, ds := range d.Destinations {
		if ds.Status != engine.StatusQueued || ds.Attempts != 0 || ds.Encoded != nil || ds.Sent != nil || ds.Response != nil {
			t.Fatalf("fresh delivery %+v", ds)
		}
	}

	at := time.Unix(1700000100, 0)
	// epr: encoded differs from content, sent nil (= encoded), with a response.
	// fhir: everything nil = content handed over.
	err := s.Record(ctx, []engine.AttemptResult{
		{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1,
			Encoded: []byte("ENCODED"), Response: []byte("MSA|AA"), At: at},
		{MessageID: id, Destination: "fhir", Status: engine.StatusQueued, Attempts: 1,
			NextAttempt: at.Add(time.Minute), Error: "503", At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	d = get(t, s, id)
	epr, fhir := destByName(t, d, "epr"), destByName(t, d, "fhir")
	if epr.Status != engine.StatusSent || epr.Attempts != 1 || str(epr.Encoded) != "ENCODED" ||
		str(epr.Sent) != "ENCODED" || str(epr.Response) != "MSA|AA" || !epr.UpdatedAt.Equal(at) || epr.NextAttempt != nil {
		t.Fatalf("epr %+v enc=%s sent=%s resp=%s", epr, str(epr.Encoded), str(epr.Sent), str(epr.Response))
	}
	if fhir.Status != engine.StatusQueued || fhir.LastError != "503" || str(fhir.Encoded) != "TRANSFORMED" ||
		str(fhir.Sent) != "TRANSFORMED" || fhir.Response != nil || fhir.NextAttempt == nil || !fhir.NextAttempt.Equal(at.Add(time.Minute)) {
		t.Fatalf("fhir %+v", fhir)
	}
	if d.Status != engine.StatusQueued {
		t.Fatalf("aggregate %s, want QUEUED", d.Status)
	}

	// Sent stored explicitly.
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "fhir", Status: engine.StatusSent,
		Attempts: 2, Encoded: []byte("{json}"), Sent: []byte("POST /Bundle\r\n\r\n{json}"), Response: []byte("201")}}); err != nil {
		t.Fatal(err)
	}
	d = get(t, s, id)
	fhir = destByName(t, d, "fhir")
	if str(fhir.Encoded) != "{json}" || str(fhir.Sent) != "POST /Bundle\r\n\r\n{json}" || fhir.LastError != "" {
		t.Fatalf("fhir %+v", fhir)
	}
	if d.Status != engine.StatusSent {
		t.Fatalf("aggregate %s, want SENT", d.Status)
	}

	// Untransformed: Transformed nil; transformed equal to raw is stored as "unchanged".
	m2 := newMsg("adt")
	m2.Transformed = append([]byte{}, m2.Raw...)
	m2.Meta = nil
	id2 := mustAccept(t, s, m2)
	d2 := get(t, s, id2)
	if d2.Transformed != nil || d2.Status != engine.StatusTransformed || len(d2.Destinations) != 0 || d2.Meta == nil {
		t.Fatalf("m2 %+v", d2)
	}

	if _, err := s.GetMessage(ctx, 999999); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
}

func TestAcceptValidation(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	for _, m := range []*engine.NewMessage{
		{Channel: "c", Status: engine.StatusSent, Raw: []byte("x")},
		{Channel: "", Status: engine.StatusFiltered, Raw: []byte("x")},
		{Channel: "c", Status: engine.StatusTransformed, Raw: []byte("x"), Destinations: []string{"a", "a"}},
	} {
		if _, err := s.Accept(ctx, m); err == nil {
			t.Errorf("Accept(%+v) succeeded", m)
		}
	}
	// FILTERED with destinations stores no deliveries.
	m := newMsg("c", "a")
	m.Status = engine.StatusFiltered
	m.Error = "filter: wrong sender"
	d := get(t, s, mustAccept(t, s, m))
	if d.Status != engine.StatusFiltered || len(d.Destinations) != 0 || d.Error != "filter: wrong sender" {
		t.Fatalf("%+v", d)
	}
}

func TestPendingOrderAndAfterID(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 10; i++ {
		m := newMsg("adt", "epr", "fhir")
		m.ControlID = fmt.Sprint("C", i)
		if i%2 == 1 {
			m.Transformed = []byte(fmt.Sprint("T", i))
		}
		ids = append(ids, mustAccept(t, s, m))
		// Noise in another channel with a same-named destination.
		mustAccept(t, s, newMsg("other", "epr"))
	}
	p, err := s.Pending(ctx, "adt", "epr", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 10 {
		t.Fatalf("got %d pending", len(p))
	}
	for i, d := range p {
		meta, err := d.Meta()
		if err != nil {
			t.Fatal(err)
		}
		if d.MessageID != ids[i] || d.Channel != "adt" || d.Destination != "epr" || d.ControlID != fmt.Sprint("C", i) ||
			d.DataType != "Hl7v2" || meta["X-Peer"] != "10.0.0.1" || d.Attempts != 0 || !d.NextAttempt.IsZero() {
			t.Fatalf("pending[%d] = %+v", i, d)
		}
		want := string(newMsg("").Raw)
		if i%2 == 1 {
			want = fmt.Sprint("T", i)
		}
		if string(d.Content) != want {
			t.Fatalf("pending[%d] content %q want %q", i, d.Content, want)
		}
	}
	p, _ = s.Pending(ctx, "adt", "epr", ids[3], 4)
	if len(p) != 4 || p[0].MessageID != ids[4] || p[3].MessageID != ids[7] {
		t.Fatalf("after %d: %+v", ids[3], p)
	}
	// Sent and errored rows leave the queue; retried ones stay with their attempt info.
	next := time.Unix(1800000000, 0)
	if err := s.Record(ctx, []engine.AttemptResult{
		{MessageID: ids[0], Destination: "epr", Status: engine.StatusSent, Attempts: 1},
		{MessageID: ids[1], Destination: "epr", Status: engine.StatusError, Attempts: 5, Error: "gave up"},
		{MessageID: ids[2], Destination: "epr", Status: engine.StatusQueued, Attempts: 1, NextAttempt: next},
	}); err != nil {
		t.Fatal(err)
	}
	p, _ = s.Pending(ctx, "adt", "epr", 0, 3)
	if len(p) != 3 || p[0].MessageID != ids[2] || p[0].Attempts != 1 || !p[0].NextAttempt.Equal(next) || p[1].MessageID != ids[3] {
		t.Fatalf("after record: %+v", p)
	}
	if p, _ := s.Pending(ctx, "adt", "nope", 0, 3); len(p) != 0 {
		t.Fatalf("unknown queue: %+v", p)
	}
	if p, _ := s.Pending(ctx, "adt", "epr", ids[9], 3); len(p) != 0 {
		t.Fatalf("past the end: %+v", p)
	}
}

func TestRecordAggregateAndStats(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	b := mustAccept(t, s, newMsg("adt", "epr", "fhir"))
	f := newMsg("adt")
	f.Status = engine.StatusFiltered
	mustAccept(t, s, f)
	e := newMsg("adt")
	e.Status = engine.StatusError
	e.Error = "parse: no MSH"
	eid := mustAccept(t, s, e)
	mustAccept(t, s, newMsg("lab", "epr"))

	rec := func(id int64, dest string, st engine.Status) {
		t.Helper()
		if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: dest, Status: st, Attempts: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(id int64) engine.Status { t.Helper(); return get(t, s, id).Status }

	rec(a, "epr", engine.StatusSent)
	if got := status(a); got != engine.StatusQueued {
		t.Fatalf("one sent one queued: %s", got)
	}
	rec(a, "fhir", engine.StatusSent)
	if got := status(a); got != engine.StatusSent {
		t.Fatalf("both sent: %s", got)
	}
	rec(b, "epr", engine.StatusError)
	if got := status(b); got != engine.StatusError {
		t.Fatalf("one error one queued: %s", got)
	}
	rec(b, "fhir", engine.StatusSent)
	if got := status(b); got != engine.StatusError {
		t.Fatalf("error + sent: %s", got)
	}
	// Reprocessing the errored delivery puts it back in the queue.
	rec(b, "epr", engine.StatusQueued)
	if got := status(b); got != engine.StatusQueued {
		t.Fatalf("requeued: %s", got)
	}

	// Unknown delivery: the whole call fails, nothing of it is applied.
	err := s.Record(ctx, []engine.AttemptResult{
		{MessageID: b, Destination: "epr", Status: engine.StatusSent, Attempts: 2},
		{MessageID: eid, Destination: "epr", Status: engine.StatusSent, Attempts: 1},
	})
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
	if ds := destByName(t, get(t, s, b), "epr"); ds.Status != engine.StatusQueued || ds.Attempts != 1 {
		t.Fatalf("partial record applied: %+v", ds)
	}
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: a, Destination: "x", Status: engine.StatusReceived}}); err == nil {
		t.Fatal("bad status accepted")
	}

	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adt := st["adt"]
	if adt.Received != 4 || adt.Filtered != 1 || adt.Errored != 1 {
		t.Fatalf("adt %+v", adt)
	}
	if got := adt.Destinations["epr"]; got != (engine.DestinationCounts{Queued: 1, Sent: 1}) {
		t.Fatalf("adt/epr %+v", got)
	}
	if got := adt.Destinations["fhir"]; got != (engine.DestinationCounts{Sent: 2}) {
		t.Fatalf("adt/fhir %+v", got)
	}
	if lab := st["lab"]; lab.Received != 1 || lab.Destinations["epr"] != (engine.DestinationCounts{Queued: 1}) {
		t.Fatalf("lab %+v", lab)
	}
	checkCounters(t, s)
}

// checkCounters compares the maintained counters with counts of the rows themselves.
func checkCounters(t testing.TB, s *Store) {
	t.Helper()
	rows, err := s.rdb.Query(`
		SELECT q.channel, q.destination, q.queued, q.sent, q.error, q.filtered,
		       (SELECT count(*) FROM deliveries d WHERE d.queue_id = q.id AND d.status = 'QUEUED'),
		       (SELECT count(*) FROM deliveries d WHERE d.queue_id = q.id AND d.status = 'SENT'),
		       (SELECT count(*) FROM deliveries d WHERE d.queue_id = q.id AND d.status = 'ERROR'),
		       (SELECT count(*) FROM deliveries d WHERE d.queue_id = q.id AND d.status = 'FILTERED')
		FROM queues q`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch, dest string
		var a, b, c, f, x, y, z, g int64
		if err := rows.Scan(&ch, &dest, &a, &b, &c, &f, &x, &y, &z, &g); err != nil {
			t.Fatal(err)
		}
		if a != x || b != y || c != z || f != g {
			t.Errorf("queue %s/%s counters %d/%d/%d/%d, rows %d/%d/%d/%d", ch, dest, a, b, c, f, x, y, z, g)
		}
	}
	var bad int
	if err := s.rdb.QueryRow(`
		SELECT count(*) FROM channels c WHERE received <> (SELECT count(*) FROM messages m WHERE m.channel = c.name)
		   OR filtered <> (SELECT count(*) FROM messages m WHERE m.channel = c.name AND m.status = 'FILTERED')`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d channel counters disagree with the messages table", bad)
	}
}

func TestListMessages(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var adt []int64
	for i := 0; i < 25; i++ {
		adt = append(adt, mustAccept(t, s, newMsg("adt", "epr", "fhir")))
		mustAccept(t, s, newMsg("lab", "epr"))
	}
	e := newMsg("lab")
	e.Status = engine.StatusError
	e.Error = "bad"
	eid := mustAccept(t, s, e)
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: adt[3], Destination: "fhir", Status: engine.StatusError, Attempts: 3, Error: "boom"}}); err != nil {
		t.Fatal(err)
	}

	all, err := s.ListMessages(ctx, engine.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 51 || all[0].ID != eid {
		t.Fatalf("all: %d, first %d", len(all), all[0].ID)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatal("not newest first")
		}
	}

	page, err := s.ListMessages(ctx, engine.MessageFilter{Channel: "adt", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 10 || page[0].ID != adt[24] || page[9].ID != adt[15] {
		t.Fatalf("page 1: %d", len(page))
	}
	for _, m := range page {
		if len(m.Destinations) != 2 || m.Destinations[0].Name != "epr" || m.Destinations[1].Name != "fhir" ||
			m.Destinations[0].Status != engine.StatusQueued || m.Channel != "adt" {
			t.Fatalf("summary %+v", m)
		}
	}
	var seen []int64
	cursor := int64(0)
	for {
		p, err := s.ListMessages(ctx, engine.MessageFilter{Channel: "adt", Limit: 10, BeforeID: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		for _, m := range p {
			seen = append(seen, m.ID)
		}
		cursor = p[len(p)-1].ID
	}
	if len(seen) != 25 || seen[24] != adt[0] {
		t.Fatalf("paged %d", len(seen))
	}

	errs, err := s.ListMessages(ctx, engine.MessageFilter{Status: engine.StatusError})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].ID != eid || errs[0].Error != "bad" || len(errs[0].Destinations) != 0 || errs[1].ID != adt[3] {
		t.Fatalf("errors: %+v", errs)
	}
	fhir := errs[1].Destinations[1]
	if fhir.Status != engine.StatusError || fhir.Attempts != 3 || fhir.LastError != "boom" {
		t.Fatalf("fhir %+v", fhir)
	}
	labErr, _ := s.ListMessages(ctx, engine.MessageFilter{Channel: "lab", Status: engine.StatusError})
	if len(labErr) != 1 || labErr[0].ID != eid {
		t.Fatalf("lab errors %+v", labErr)
	}
	if _, err := s.ListMessages(ctx, engine.MessageFilter{Status: "BOGUS'; DROP TABLE messages; --"}); err == nil {
		t.Fatal("bad status accepted")
	}
	big, _ := s.ListMessages(ctx, engine.MessageFilter{Limit: 5000})
	if len(big) != 51 {
		t.Fatalf("big %d", len(big))
	}
}

func TestDuplicateDedupKeyConcurrent(t *testing.T) {
	s := openTest(t, Options{})
	const n = 50
	var ok, dup atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := newMsg("fhir", "epr")
			m.DedupKey = "Bundle/abc"
			<-start
			_, err := s.Accept(context.Background(), m)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, engine.ErrDuplicate):
				dup.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	// Unrelated messages in the same batches must not be affected.
	var others sync.WaitGroup
	for i := 0; i < 20; i++ {
		others.Add(1)
		go func() {
			defer others.Done()
			<-start
			if _, err := s.Accept(context.Background(), newMsg("fhir", "epr")); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	others.Wait()
	if ok.Load() != 1 || dup.Load() != n-1 {
		t.Fatalf("ok=%d dup=%d", ok.Load(), dup.Load())
	}
	list, _ := s.ListMessages(context.Background(), engine.MessageFilter{})
	if len(list) != 21 {
		t.Fatalf("stored %d messages, want 21", len(list))
	}
	st, _ := s.Stats(context.Background())
	if st["fhir"].Received != 21 || st["fhir"].Destinations["epr"].Queued != 21 {
		t.Fatalf("stats %+v", st["fhir"])
	}
	checkCounters(t, s)
}

func TestGroupCommit(t *testing.T) {
	s := openTest(t, Options{})
	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	before := s.commits.Load()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Accept(context.Background(), newMsg("adt", "epr", "fhir")); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	commits := s.commits.Load() - before
	t.Logf("%d accepts in %d commits", n, commits)
	if commits > n/4 {
		t.Fatalf("%d commits for %d concurrent accepts: not batching", commits, n)
	}
	st, _ := s.Stats(context.Background())
	if st["adt"].Received != n {
		t.Fatalf("received %d", st["adt"].Received)
	}
}

func TestLeases(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	acq := func(owner string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireQueue(ctx, "adt", "epr", owner, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acq("node-a", time.Hour) {
		t.Fatal("first acquire failed")
	}
	if !acq("node-a", time.Hour) {
		t.Fatal("renew failed")
	}
	if acq("node-b", time.Hour) {
		t.Fatal("stole a live lease")
	}
	if err := s.ReleaseQueue(ctx, "adt", "epr", "node-b"); err != nil { // not the owner: no-op
		t.Fatal(err)
	}
	if acq("node-b", time.Hour) {
		t.Fatal("release by non-owner freed the lease")
	}
	if err := s.ReleaseQueue(ctx, "adt", "epr", "node-a"); err != nil {
		t.Fatal(err)
	}
	if !acq("node-b", 50*time.Millisecond) {
		t.Fatal("acquire after release failed")
	}
	if acq("node-a", time.Hour) {
		t.Fatal("stole before expiry")
	}
	time.Sleep(80 * time.Millisecond)
	if !acq("node-a", time.Hour) {
		t.Fatal("could not take an expired lease")
	}
	if acq("node-b", time.Hour) {
		t.Fatal("old owner took it back")
	}
	// The lease row and the queue's messages share the queue row.
	mustAccept(t, s, newMsg("adt", "epr"))
	if p, _ := s.Pending(ctx, "adt", "epr", 0, 10); len(p) != 1 {
		t.Fatalf("pending %d", len(p))
	}
	if acq("node-b", time.Hour) {
		t.Fatal("accept disturbed the lease")
	}
	if _, err := s.AcquireQueue(ctx, "adt", "epr", "", time.Second); err == nil {
		t.Fatal("empty owner accepted")
	}
}

func TestReopenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := mustAccept(t, s, newMsg("adt", "epr"))
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1, Response: []byte("ok")}}); err != nil {
		t.Fatal(err)
	}
	id2 := mustAccept(t, s, newMsg("adt", "epr"))
	if ok, _ := s.AcquireQueue(ctx, "adt", "epr", "me", time.Hour); !ok {
		t.Fatal("lease")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if _, err := s.Accept(ctx, newMsg("adt")); !errors.Is(err, engine.ErrStoreClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if _, err := s.GetMessage(ctx, id); !errors.Is(err, engine.ErrStoreClosed) {
		t.Fatalf("get after close: %v", err)
	}
	if _, err := s.Pending(ctx, "adt", "epr", 0, 1); !errors.Is(err, engine.ErrStoreClosed) {
		t.Fatalf("pending after close: %v", err)
	}
	if _, err := s.Stats(ctx); !errors.Is(err, engine.ErrStoreClosed) {
		t.Fatalf("stats after close: %v", err)
	}
	if _, err := s.AcquireQueue(ctx, "adt", "epr", "me", time.Hour); !errors.Is(err, engine.ErrStoreClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Close: %v", suffix, err)
		}
	}

	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	d := get(t, s2, id)
	if d.Status != engine.StatusSent || str(destByName(t, d, "epr").Response) != "ok" {
		t.Fatalf("%+v", d)
	}
	if p, _ := s2.Pending(ctx, "adt", "epr", 0, 10); len(p) != 1 || p[0].MessageID != id2 {
		t.Fatalf("pending %+v", p)
	}
	if ok, _ := s2.AcquireQueue(ctx, "adt", "epr", "other", time.Hour); ok {
		t.Fatal("lease lost on reopen")
	}
	// New ids continue after the old ones, and the queue ids are reused.
	id3 := mustAccept(t, s2, newMsg("adt", "epr"))
	if id3 <= id2 {
		t.Fatalf("id %d after %d", id3, id2)
	}
	st, _ := s2.Stats(ctx)
	if st["adt"].Received != 3 || st["adt"].Destinations["epr"] != (engine.DestinationCounts{Queued: 2, Sent: 1}) {
		t.Fatalf("stats %+v", st)
	}
	var v int
	if err := s2.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("user_version %d %v", v, err)
	}
	checkCounters(t, s2)
}

// TestAbandonedReopen opens the file again from a second Store while the first one is
// left open and never closed: everything the first one acknowledged must be there.
func TestAbandonedReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s1, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id, err := s1.Accept(context.Background(), newMsg("adt", "epr"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// s1 is abandoned (no Close) for the rest of the test.
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, id := range ids {
		if _, err := s2.GetMessage(context.Background(), id); err != nil {
			t.Fatalf("message %d: %v", id, err)
		}
	}
	// The second store can write to the same file too.
	mustAccept(t, s2, newMsg("adt", "epr"))
	p, _ := s2.Pending(context.Background(), "adt", "epr", 0, 1000)
	if len(p) != len(ids)+1 {
		t.Fatalf("pending %d, want %d", len(p), len(ids)+1)
	}
	t.Cleanup(func() { s1.Close() })
}

func TestCancelledAcceptIsAllOrNothing(t *testing.T) {
	s := openTest(t, Options{})
	var wg sync.WaitGroup
	var acked atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*100*time.Microsecond)
			defer cancel()
			if _, err := s.Accept(ctx, newMsg("adt", "epr", "fhir")); err == nil {
				acked.Add(1)
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	// Let the writer finish whatever was queued, then check no message is half stored.
	if err := s.Checkpoint(context.Background(), "PASSIVE"); err != nil {
		t.Fatal(err)
	}
	var half int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM messages m WHERE
		(SELECT count(*) FROM deliveries d WHERE d.id BETWEEN m.id << 8 AND (m.id << 8) | 255) <> 2`).Scan(&half); err != nil {
		t.Fatal(err)
	}
	var n int64
	s.rdb.QueryRow(`SELECT count(*) FROM messages`).Scan(&n)
	if half != 0 || n < acked.Load() {
		t.Fatalf("half=%d stored=%d acked=%d", half, n, acked.Load())
	}
	checkCounters(t, s)
}

func TestCloseFlushesQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var acked atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Accept(context.Background(), newMsg("adt", "epr"))
			if err == nil {
				acked.Add(1)
			} else if !errors.Is(err, engine.ErrStoreClosed) {
				t.Error(err)
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st, _ := s2.Stats(context.Background())
	if st["adt"].Received != acked.Load() {
		t.Fatalf("stored %d, acknowledged %d", st["adt"].Received, acked.Load())
	}
}

// acceptTogether runs Accept for every message at once (so they share batches) and
// returns the ids and errors in order.
func acceptTogether(s *Store, msgs []*engine.NewMessage) ([]int64, []error) {
	ids := make([]int64, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i], errs[i] = s.Accept(context.Background(), m)
		}()
	}
	close(start)
	wg.Wait()
	return ids, errs
}

var errInjected = errors.New("injected")

// A request that fails after writing part of its rows undoes them itself; the others in
// the batch commit.
func TestFailedDeliveryInsertIsUndone(t *testing.T) {
	s := openTest(t, Options{})
	s.w.hook = func(op operation, stage string) error {
		if a, ok := op.(*acceptOp); ok && stage == "delivery" && a.controlID == "BAD" {
			return errInjected
		}
		return nil
	}
	var msgs []*engine.NewMessage
	for i := 0; i < 40; i++ {
		m := newMsg("adt", "epr", "fhir")
		if i%10 == 3 {
			m.ControlID = "BAD"
		}
		msgs = append(msgs, m)
	}
	ids, errs := acceptTogether(s, msgs)
	good := 0
	for i, err := range errs {
		if msgs[i].ControlID == "BAD" {
			if !errors.Is(err, errInjected) {
				t.Fatalf("bad message: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("good message %d failed: %v", i, err)
		}
		good++
		if d := get(t, s, ids[i]); len(d.Destinations) != 2 {
			t.Fatalf("message %d: %+v", ids[i], d)
		}
	}
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM messages WHERE control_id = 'BAD'").Scan(&n)
	if n != 0 {
		t.Fatalf("%d BAD messages stored", n)
	}
	s.rdb.QueryRow("SELECT count(*) FROM deliveries").Scan(&n)
	if n != 2*good {
		t.Fatalf("%d deliveries for %d good messages", n, good)
	}
	checkCounters(t, s)
}

// A request that leaves the transaction unusable fails alone: the batch is rolled back and
// committed again without it.
func TestCulpritIsRetriedOut(t *testing.T) {
	s := openTest(t, Options{})
	s.w.hook = func(op operation, stage string) error {
		if a, ok := op.(*acceptOp); ok && stage == "applied" && a.controlID == "FATAL" {
			return errInjected
		}
		return nil
	}
	var msgs []*engine.NewMessage
	for i := 0; i < 60; i++ {
		m := newMsg("adt", "epr")
		if i%20 == 7 {
			m.ControlID = "FATAL"
		}
		msgs = append(msgs, m)
	}
	ids, errs := acceptTogether(s, msgs)
	for i, err := range errs {
		if msgs[i].ControlID == "FATAL" {
			if !errors.Is(err, errInjected) || ids[i] != 0 {
				t.Fatalf("culprit: id %d err %v", ids[i], err)
			}
		} else if err != nil {
			t.Fatalf("innocent message failed: %v", err)
		} else if d := get(t, s, ids[i]); d.ControlID != "MSG0001" {
			t.Fatalf("id %d is %+v", ids[i], d)
		}
	}
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM messages").Scan(&n)
	if n != 57 {
		t.Fatalf("%d stored, want 57", n)
	}
	checkCounters(t, s)
}

func TestPragmas(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	// The writer is idle here; database/sql serialises use of its connection anyway.
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL: the WAL is fsynced at every commit
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"page_size":    fmt.Sprint(defaultPageSize),
	} {
		var got string
		if err := s.wconn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("writer %s = %s, want %s", pragma, got, want)
		}
	}
	// Readers cannot write.
	if _, err := s.rdb.ExecContext(ctx, "INSERT INTO channels (name) VALUES ('x')"); err == nil {
		t.Error("read-only pool accepted a write")
	}
}

func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir with spaces", "100% ?#&=")
	path := filepath.Join(dir, "j.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := mustAccept(t, s, newMsg("adt", "epr"))
	get(t, s, id)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
	if s.Path() != path {
		t.Fatalf("Path() = %q", s.Path())
	}
}

// A lease held by a dead process is taken over at once, but only from that holder.
func TestTakeQueueFromDeadHolder(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if owner, _, err := s.QueueHolder(ctx, "adt", "epr"); err != nil || owner != "" {
		t.Fatalf("holder of an unknown queue = %q, %v", owner, err)
	}
	if ok, err := s.AcquireQueue(ctx, "adt", "epr", "dead", time.Hour); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	owner, until, err := s.QueueHolder(ctx, "adt", "epr")
	if err != nil || owner != "dead" || time.Until(until) < 59*time.Minute {
		t.Fatalf("holder = %q until %s, %v", owner, until, err)
	}
	if ok, _ := s.AcquireQueue(ctx, "adt", "epr", "me", time.Minute); ok {
		t.Fatal("acquired a queue held by another")
	}
	if ok, _ := s.TakeQueue(ctx, "adt", "epr", "someone-else", "me", time.Minute); ok {
		t.Fatal("took a queue from a holder that does not hold it")
	}
	if ok, err := s.TakeQueue(ctx, "adt", "epr", "dead", "me", time.Minute); !ok || err != nil {
		t.Fatalf("take: %v %v", ok, err)
	}
	if owner, _, _ := s.QueueHolder(ctx, "adt", "epr"); owner != "me" {
		t.Fatalf("holder after take = %q", owner)
	}
	if err := s.ReleaseQueue(ctx, "adt", "epr", "me"); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := s.QueueHolder(ctx, "adt", "epr"); owner != "" {
		t.Fatalf("holder after release = %q", owner)
	}
}

func TestMessageByKey(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	m := newMsg("gw", "flis")
	m.DedupKey = "Bundle/abc"
	id := mustAccept(t, s, m)
	if got, err := s.MessageByKey(ctx, "Bundle/abc"); err != nil || got != id {
		t.Fatalf("MessageByKey = %d, %v; want %d", got, err, id)
	}
	if _, err := s.MessageByKey(ctx, "Bundle/other"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}
