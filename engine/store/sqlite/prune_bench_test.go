package sqlite

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"junction/engine"
)

// BenchmarkAcceptDuringPrune is BenchmarkAcceptParallel (16 callers per GOMAXPROCS) while
// retention passes remove 5,000 old messages (content and rows) beside it: compare its
// msgs/s with BenchmarkAcceptParallel's. pruned/s is how many old messages went while the
// messages were accepted, a second.
func BenchmarkAcceptDuringPrune(b *testing.B) {
	s := openTest(b, Options{})
	ctx := context.Background()
	const old = 5000
	var last int64
	for i := 0; i < old; i++ {
		m := benchMsg()
		m.ReceivedAt = time.Now().Add(-100 * day)
		id, err := s.Accept(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: "epr", Status: engine.StatusSent, Attempts: 1},
			{MessageID: id, Destination: "fhir-store", Status: engine.StatusSent, Attempts: 1}}); err != nil {
			b.Fatal(err)
		}
		last = id
	}
	waitIndexed(b, s, last)
	opts := engine.PruneOptions{Channels: map[string]engine.Retention{"lab-results": {Content: 30 * day, Messages: 90 * day}}}
	var passes atomic.Int64
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	b.SetParallelism(16)
	c0, i0 := s.commits.Load(), s.items.Load()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	go func() {
		defer close(done)
		for pctx.Err() == nil {
			rep, err := s.Prune(pctx, opts)
			if err != nil {
				if pctx.Err() == nil {
					b.Error(err)
				}
				break
			}
			passes.Add(1)
			if rep.Channels["lab-results"].Messages == 0 {
				return // all gone
			}
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Accept(ctx, benchMsg()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	stop()
	<-done
	var left int64
	if err := s.rdb.QueryRow(`SELECT count(*) FROM messages WHERE received_at < ?`, time.Now().Add(-90*day).UnixNano()).Scan(&left); err != nil {
		b.Fatal(err)
	}
	reportStore(b, s, start, cpu0, c0, i0)
	b.ReportMetric(float64(old-left)/elapsed.Seconds(), "pruned/s")
}
