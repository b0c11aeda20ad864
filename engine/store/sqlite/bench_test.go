package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"junction/engine"
)

// benchRaw is a ~1.5 KB HL7v2 ORU message.
var benchRaw = func() []byte {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LABSYS|RX1|EPR|RX1|20240101120000||ORU^R01^ORU_R01|MSG000123456|P|2.4|||AL|NE\r")
	b.WriteString("PID|1||9434765919^^^NHS^NH||SMITH^JOHN^A^^MR||19700101|M|||1 HIGH STREET^^LEEDS^^LS1 1AA^GBR\r")
	b.WriteString("PV1|1|O|OPD^^^RX1||||C1234567^JONES^ALICE^^^DR\r")
	b.WriteString("OBR|1|ORD123456|LAB987654|24331-1^LIPID PANEL^LN|||20240101110000|||||||20240101113000||C1234567^JONES^ALICE\r")
	for i := 0; b.Len() < 1500; i++ {
		fmt.Fprintf(&b, "OBX|%d|NM|2093-3^CHOLESTEROL TOTAL^LN||%d.%d|mmol/L|3.0-5.0|N|||F|||20240101113000\r", i+1, 4+i%3, i%10)
	}
	return []byte(b.String()[:1500])
}()

func benchMsg() *engine.NewMessage {
	return &engine.NewMessage{
		Channel:      "lab-results",
		ReceivedAt:   time.Now(),
		Status:       engine.StatusTransformed,
		DataType:     "Hl7v2",
		ControlID:    "MSG000123456",
		SourceDomain: "labsys.rx1.nhs.uk",
		OrgCode:      "RX1",
		Meta:         map[string]string{"Content-Type": "x-application/hl7-v2+er7", "Remote-Addr": "10.1.2.3:51234"},
		Raw:          benchRaw,
		Destinations: []string{"epr", "fhir-store"},
	}
}

// cpuTime is the process's user+system CPU time so far: on a shared, noisy machine CPU per
// message is steadier than wall-clock throughput.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportStore(b *testing.B, s *Store, start time.Time, cpu0 time.Duration, commits0, items0 uint64) {
	b.Helper()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	commits := s.commits.Load() - commits0
	items := s.items.Load() - items0
	if err := s.Checkpoint(context.Background(), "TRUNCATE"); err != nil {
		b.Fatal(err)
	}
	size, err := s.SizeBytes()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(float64(size)/float64(b.N), "bytes/msg")
	if commits > 0 {
		b.ReportMetric(float64(items)/float64(commits), "items/commit")
	}
}

// BenchmarkAcceptParallel: 1.5 KB raw, two destinations, many concurrent callers.
// bytes/msg is the database file after a checkpoint, divided by the messages accepted.
func BenchmarkAcceptParallel(b *testing.B) {
	for _, par := range []int{16, 128} {
		b.Run(fmt.Sprintf("callers=%dxGOMAXPROCS", par), func(b *testing.B) {
			s := openTest(b, Options{})
			b.SetParallelism(par)
			b.ReportAllocs()
			c0, i0 := s.commits.Load(), s.items.Load()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Accept(context.Background(), benchMsg()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportStore(b, s, start, cpu0, c0, i0)
		})
	}
}

// BenchmarkAcceptRecordParallel is the full life of a message: Accept, then one Record per
// destination (both SENT, with a response), from concurrent callers.
func BenchmarkAcceptRecordParallel(b *testing.B) {
	s := openTest(b, Options{})
	b.SetParallelism(64)
	c0, i0 := s.commits.Load(), s.items.Load()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			id, err := s.Accept(ctx, benchMsg())
			if err != nil {
				b.Error(err)
				return
			}
			for _, d := range []string{"epr", "fhir-store"} {
				if err := s.Record(ctx, []engine.AttemptResult{{MessageID: id, Destination: d,
					Status: engine.StatusSent, Attempts: 1, Response: []byte("MSA|AA|MSG000123456")}}); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	reportStore(b, s, start, cpu0, c0, i0)
}

// BenchmarkBareInsertParallel is a baseline: a handler that inserts one row per request
// (the raw message) in its own autocommit transaction through a database/sql pool, WAL
// mode, with synchronous=FULL (same durability as the store) and NORMAL (no fsync per
// commit: not durable on power loss).
func BenchmarkBareInsertParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bare.db")
			db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous="+sync+"&_busy_timeout=10000&_txlock=immediate")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(4)
			if _, err := db.Exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, channel TEXT, received_at INTEGER, raw BLOB)`); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16)
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.Exec(`INSERT INTO m (channel, received_at, raw) VALUES (?, ?, ?)`,
						"lab-results", time.Now().UnixNano(), benchRaw); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

// BenchmarkReads measures the read paths on a store holding 20,000 messages (two
// destinations each), half of them delivered, one in a hundred in error.
func BenchmarkReads(b *testing.B) {
	s := openTest(b, Options{})
	ctx := context.Background()
	const n = 20000
	ids := make([]int64, 0, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/50; i++ {
				id, err := s.Accept(ctx, benchMsg())
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	var results []engine.AttemptResult
	for i, id := range ids[:n/2] {
		st := engine.StatusSent
		if i%100 == 0 {
			st = engine.StatusError
		}
		for _, d := range []string{"epr", "fhir-store"} {
			results = append(results, engine.AttemptResult{MessageID: id, Destination: d, Status: st, Attempts: 1, Response: []byte("MSA|AA")})
		}
	}
	for len(results) > 0 {
		k := min(len(results), 1000)
		if err := s.Record(ctx, results[:k]); err != nil {
			b.Fatal(err)
		}
		results = results[k:]
	}
	b.Run("Pending100", func(b *testing.B) {
		for b.Loop() {
			if p, err := s.Pending(ctx, "lab-results", "epr", 0, 100); err != nil || len(p) != 100 {
				b.Fatal(len(p), err)
			}
		}
	})
	b.Run("ListMessages100", func(b *testing.B) {
		for b.Loop() {
			if l, err := s.ListMessages(ctx, engine.MessageFilter{}); err != nil || len(l) != 100 {
				b.Fatal(len(l), err)
			}
		}
	})
	b.Run("ListMessages100/channel", func(b *testing.B) {
		for b.Loop() {
			if l, err := s.ListMessages(ctx, engine.MessageFilter{Channel: "lab-results", BeforeID: ids[n/2]}); err != nil || len(l) != 100 {
				b.Fatal(len(l), err)
			}
		}
	})
	b.Run("ListMessages/errors", func(b *testing.B) {
		for b.Loop() {
			if l, err := s.ListMessages(ctx, engine.MessageFilter{Status: engine.StatusError}); err != nil || len(l) != 100 {
				b.Fatal(len(l), err)
			}
		}
	})
	b.Run("GetMessage", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetMessage(ctx, ids[i%n]); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	})
	b.Run("Stats", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stats(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSearch100k: free-text and control-id search over 100,000 logged messages
// (each ~300 bytes of HL7v2 with a surname drawn from 1,000 and a unique NHS number),
// newest first, one page of up to 100. The index is built by the background indexer
// before timing starts. The bar: well under a second per query.
func BenchmarkSearch100k(b *testing.B) {
	const n = 100_000
	s := openTest(b, Options{})
	ctx := context.Background()
	surnames := make([]string, 1000)
	for i := range surnames {
		surnames[i] = fmt.Sprintf("SURNAME%03dX", i)
	}
	var wg sync.WaitGroup
	var last atomic.Int64
	per := n / 50
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * per; i < (g+1)*per; i++ {
				m := benchMsg()
				m.ControlID = fmt.Sprintf("CTL%07d", i)
				m.Raw = []byte(fmt.Sprintf("MSH|^~\\&|EPR|R0D|DEX|QVV|20240213144932||ADT^A01|%s|P|2.4\rEVN|A01|20240213144932\r"+
					"PID|1||%010d^^^NHS^NH||%s^JOHN^A||19800101|M|||%d HIGH STREET^^LEEDS^^LS1 1AA\rPV1|1|E|WARD%d\r",
					m.ControlID, 9000000000+i, surnames[i%len(surnames)], i%300, i%40))
				if i%97 == 0 {
					m.Status, m.Error, m.Destinations = engine.StatusError, "PID-3 missing", nil
				}
				id, err := s.Accept(ctx, m)
				if err != nil {
					b.Error(err)
					return
				}
				for {
					l := last.Load()
					if id <= l || last.CompareAndSwap(l, id) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.WaitIndexed(wctx, last.Load()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    engine.MessageFilter
		min  int
	}{
		{"rare-word", engine.MessageFilter{Text: "9000054321"}, 1},
		{"surname-100-matches", engine.MessageFilter{Text: "SURNAME123X"}, 100},
		{"prefix", engine.MessageFilter{Text: "SURNAME12*"}, 100},
		{"every-message", engine.MessageFilter{Text: "john"}, 100},
		{"phrase-and-status", engine.MessageFilter{Text: `"high street" leeds`, Status: engine.StatusError}, 100},
		{"two-words-page-deep", engine.MessageFilter{Text: "WARD7 SURNAME007X", BeforeID: 50_000}, 1},
		{"control-id", engine.MessageFilter{ControlID: "CTL0065432"}, 1},
		{"no-match", engine.MessageFilter{Text: "nobody"}, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ms, err := s.ListMessages(ctx, c.f)
				if err != nil {
					b.Fatal(err)
				}
				if len(ms) < c.min {
					b.Fatalf("%d results, want at least %d", len(ms), c.min)
				}
			}
		})
	}
}
