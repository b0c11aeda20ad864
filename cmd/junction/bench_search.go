package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
)

// searchQuery is one kind of operator search, made anew for each run (i) so that the
// runs do not all hit one cached page.
type searchQuery struct {
	name string
	make func(i, n int) engine.MessageFilter
}

// searchQueries are what operators type: an NHS number (one message), a surname (about
// n/1000 messages, one page), a prefix, a word of every message, a phrase with a status,
// two words a page deep, a control id, and a word no message has.
var searchQueries = []searchQuery{
	{"nhs-number", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{Text: fmt.Sprintf("%010d", 9000000000+i%n)}
	}},
	{"surname", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{Text: fmt.Sprintf("SURNAME%03dX", i%1000)}
	}},
	{"prefix", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{Text: fmt.Sprintf("SURNAME%02d*", i%100)}
	}},
	{"every-message", func(i, n int) engine.MessageFilter { return engine.MessageFilter{Text: "john"} }},
	{"phrase+status", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{Text: `"high street" leeds`, Status: engine.StatusError}
	}},
	{"two-words-deep", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{Text: fmt.Sprintf("WARD%d SURNAME%03dX", i%40, i%1000), BeforeID: int64(n / 2)}
	}},
	{"control-id", func(i, n int) engine.MessageFilter {
		return engine.MessageFilter{ControlID: fmt.Sprintf("CTL%08d", i%n)}
	}},
	{"no-match", func(i, n int) engine.MessageFilter { return engine.MessageFilter{Text: "nobody"} }},
}

// benchSearch measures text search latency (p50, p99 of each kind of query and of all)
// over a store of n logged messages, built first (each ~300 bytes of HL7v2 with a surname
// of 1,000 and a unique NHS number; one in 97 in ERROR), and indexed.
func benchSearch(n int, queriesPerKind int) error {
	dir, err := os.MkdirTemp("", "junction-bench-search")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(filepath.Join(dir, "junction.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	last, err := fillStore(s, n)
	if err != nil {
		return err
	}
	built := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := s.WaitIndexed(ctx, last); err != nil {
		return err
	}
	size, _ := s.SizeBytes()
	fmt.Printf("search over %d messages (stored in %s, indexed after %s, %d MB): %d queries of each kind, one page (100) newest first\n",
		n, built.Round(time.Second), time.Since(start).Round(time.Second), size>>20, queriesPerKind)
	fmt.Printf("  %-16s %9s %9s %9s\n", "query", "p50", "p99", "max")
	var all []time.Duration
	for _, q := range searchQueries {
		times := make([]time.Duration, 0, queriesPerKind)
		for i := 0; i < queriesPerKind; i++ {
			f := q.make(rand.IntN(n), n)
			t0 := time.Now()
			if _, err := s.ListMessages(ctx, f); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			times = append(times, time.Since(t0))
		}
		all = append(all, times...)
		printLatencies(q.name, times)
	}
	printLatencies("all", all)
	fmt.Println()
	return nil
}

func printLatencies(name string, times []time.Duration) {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	at := func(p float64) time.Duration { return times[min(len(times)-1, int(p*float64(len(times))))] }
	fmt.Printf("  %-16s %9s %9s %9s\n", name, at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond))
}

// fillStore logs n messages through Accept from 64 goroutines (group commits), returning
// the last id.
func fillStore(s *sqlite.Store, n int) (int64, error) {
	var wg sync.WaitGroup
	var last atomic.Int64
	var firstErr atomic.Value
	const workers = 64
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += workers {
				id, err := s.Accept(context.Background(), searchMessage(i))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for l := last.Load(); id > l && !last.CompareAndSwap(l, id); l = last.Load() {
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return last.Load(), nil
}

func searchMessage(i int) *engine.NewMessage {
	m := &engine.NewMessage{
		Channel: "lab-results", ReceivedAt: time.Now(), Status: engine.StatusTransformed, DataType: "Hl7v2",
		ControlID: fmt.Sprintf("CTL%08d", i), SourceDomain: "labsys.rx1.nhs.uk", OrgCode: "RX1",
		Destinations: []string{"epr"},
	}
	m.Raw = []byte(fmt.Sprintf("MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|%s|P|2.4\rEVN|A01|20240213144932\r"+
		"PID|1||%010d^^^NHS^NH||SURNAME%03dX^JOHN^A||19800101|M|||%d HIGH STREET^^LEEDS^^LS1 1AA\rPV1|1|E|WARD%d\r",
		m.ControlID, 9000000000+i, i%1000, i%300, i%40))
	if i%97 == 0 {
		m.Status, m.Error, m.Destinations = engine.StatusError, "PID-3 missing", nil
	}
	return m
}
