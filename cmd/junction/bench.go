package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/internal/bareref"
	"junction/internal/loadgen"
)

// bench measures $ingest end to end (HTTP, filter, transform, durable store, file
// destination) against a bare reference: a plain handler that group-commits each body to
// SQLite. Figures are printed as a ratio too, since these machines are shared and noisy.
func bench(args []string) int {
	flags := flag.NewFlagSet("bench", flag.ExitOnError)
	config := flags.String("config", "routes.yaml", "configuration whose channel's filter and transform are measured")
	channel := flags.String("channel", "", "channel of -config to measure on $ingest (default: the engine contract's example channel, see contractChannel)")
	msgFile := flags.String("message", "hl7/testdata/adt_a01.hl7", "HL7v2 message to post")
	dur := flags.Duration("duration", 6*time.Second, "time per run")
	runs := flags.Int("runs", 3, "runs per concurrency level, alternating bare and junction; the median ratio is reported")
	levels := flags.String("concurrency", "1,16,64", "concurrency levels")
	only := flags.String("only", "", "run only this target: junction, bare or gateway")
	gateway := flags.String("gateway", "care-gateway", "fhir-bundle channel of -config to measure with -bundle (empty: skip)")
	bundleFile := flags.String("bundle", "fhir/testdata/seed-care-delivery-report.json", "FHIR Bundle to PUT to the gateway, under a new id each time")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := flags.String("memprofile", "", "write an allocation profile of the whole run to this file")
	flags.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	body, err := os.ReadFile(*msgFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\r")), []byte("\n"), []byte("\r"))
	src, ok := load(*config)
	if !ok {
		return 1
	}
	ingestCfg, what := []byte(contractChannel), "the contract's example channel (filter on MSH-9.1, upper-case PID-5.1, append to a daily file)"
	if *channel != "" {
		ch := src.Channel(*channel)
		if ch == nil {
			fmt.Fprintf(os.Stderr, "bench: %s has no channel %q\n", *config, *channel)
			return 1
		}
		var err error
		if ingestCfg, err = benchConfig(ch); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		what = fmt.Sprintf("channel %s of %s", ch.Name, *config)
	}
	var concs []int
	for _, s := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad -concurrency %q\n", *levels)
			return 1
		}
		concs = append(concs, c)
	}

	fmt.Printf("junction bench: %s, %d-byte HL7v2 message through %s, %s per level\n", time.Now().Format("2006-01-02"), len(body), what, *dur)
	fmt.Printf("machine: %s/%s, %d CPUs (GOMAXPROCS %d); load generator in the same process\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if *only != "gateway" {
		fmt.Printf("%-10s %5s %10s %9s %9s %7s %10s %12s %9s %11s\n", "target", "conc", "msg/s", "p50", "p99", "errors", "bytes/msg", "delivered/s", "cpu/msg", "req/commit")
	}
	for _, c := range concs {
		if *only == "gateway" {
			break
		}
		// Runs alternate so that both targets meet the same noise; the median of the
		// paired ratios is the figure to quote.
		var ratios []float64
		for r := 0; r < max(*runs, 1); r++ {
			var ref, j benchResult
			var err error
			if *only != "junction" {
				if ref, err = benchBare(body, c, *dur); err != nil {
					fmt.Fprintln(os.Stderr, "bench: bare reference:", err)
					return 1
				}
			}
			if *only != "bare" {
				if j, err = benchJunction(ingestCfg, body, c, *dur); err != nil {
					fmt.Fprintln(os.Stderr, "bench: junction:", err)
					return 1
				}
			}
			if ref.PerSecond > 0 && j.PerSecond > 0 {
				ratios = append(ratios, j.PerSecond/ref.PerSecond)
			}
		}
		if len(ratios) > 0 {
			all := make([]string, len(ratios))
			for i, r := range ratios {
				all[i] = fmt.Sprintf("%.2f", r)
			}
			sort.Float64s(ratios)
			fmt.Printf("  -> junction/bare at concurrency %d: median %.2f (runs: %s)\n", c, ratios[len(ratios)/2], strings.Join(all, ", "))
		}
		fmt.Println()
	}
	if *gateway == "" || (*only != "" && *only != "gateway") {
		return 0
	}
	gw := src.Channel(*gateway)
	if gw == nil {
		fmt.Fprintf(os.Stderr, "bench: %s has no channel %q\n", *config, *gateway)
		return 1
	}
	bundle, err := os.ReadFile(*bundleFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Printf("Care Gateway: PUT %s (%d bytes) to channel %s: validated, stored, forwarded to a file\n", *bundleFile, len(bundle), gw.Name)
	fmt.Printf("%-10s %5s %10s %9s %9s %7s %10s %12s %9s %11s\n", "target", "conc", "bundles/s", "p50", "p99", "errors", "bytes/msg", "delivered/s", "cpu/msg", "req/commit")
	for _, c := range concs {
		if _, err := benchGateway(src, gw, bundle, c, *dur); err != nil {
			fmt.Fprintln(os.Stderr, "bench: gateway:", err)
			return 1
		}
	}
	return 0
}

type benchResult struct {
	loadgen.Result
	bytesPerMsg float64
	delivered   float64
	cpuPerMsg   time.Duration // process CPU (user+system, load generator included) per message
	perCommit   float64       // store requests (accepts, delivery results, ...) per transaction
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func printRow(target string, r benchResult) {
	del := "-"
	if r.delivered > 0 {
		del = fmt.Sprintf("%.0f", r.delivered)
	}
	perCommit := "-"
	if r.perCommit > 0 {
		perCommit = fmt.Sprintf("%.1f", r.perCommit)
	}
	fmt.Printf("%-10s %5d %10.0f %9s %9s %7d %10.0f %12s %9s %11s\n", target, r.Concurrency, r.PerSecond, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors, r.bytesPerMsg, del, r.cpuPerMsg.Round(time.Microsecond), perCommit)
}

func benchBare(body []byte, conc int, d time.Duration) (benchResult, error) {
	dir, err := os.MkdirTemp("", "junction-bench-bare")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "bare.db")
	url, stop, err := bareref.Start(db, "127.0.0.1:0")
	if err != nil {
		return benchResult{}, err
	}
	cpu0 := cpuTime()
	res, err := loadgen.Run(context.Background(), loadgen.Request{URL: url, Body: body, Header: ingestHeaders()}, conc, d)
	cpu := cpuTime() - cpu0
	stop()
	if err != nil {
		return benchResult{}, err
	}
	r := benchResult{Result: res}
	if ok := res.Requests - res.Errors; ok > 0 {
		r.bytesPerMsg = float64(dirSize(dir)) / float64(ok)
		r.cpuPerMsg = cpu / time.Duration(ok)
	}
	printRow("bare", r)
	return r, nil
}

// benchGateway PUTs the bundle under a fresh id each time to a fhir-bundle channel
// configured as in its file, with its destinations replaced by one file destination.
func benchGateway(src *engine.Engine, ch *engine.Channel, bundle []byte, conc int, d time.Duration) (benchResult, error) {
	var id struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(bundle, &id); err != nil || id.ID == "" {
		return benchResult{}, fmt.Errorf("the bundle has no id to vary: %v", err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal([]byte(ch.Section), &items); err != nil || len(items) != 1 {
		return benchResult{}, fmt.Errorf("cannot read channel %s back from its file: %v", ch.Name, err)
	}
	c := items[0]
	c["name"] = "bench"
	source, _ := c["source"].(map[string]any)
	source["listen"] = "127.0.0.1:0"
	if pkgs, ok := source["packages"].([]any); ok {
		for i, p := range pkgs {
			if s, ok := p.(string); ok && !filepath.IsAbs(s) {
				pkgs[i], _ = filepath.Abs(filepath.Join(src.Dir, s))
			}
		}
	}
	c["destinations"] = []any{map[string]any{"name": "archive", "type": "file", "dir": "out", "filename": "{channel}-{date}.{ext}", "append": true}}
	base, _ := source["base"].(string)
	if base == "" {
		base = "/fhir"
	}
	cfg, err := yaml.Marshal(map[string]any{"store": map[string]any{"path": "junction.db"}, "admin": map[string]any{"listen": "127.0.0.1:0"}, "channels": []any{c}})
	if err != nil {
		return benchResult{}, err
	}
	old := []byte(`"` + id.ID + `"`)
	req := loadgen.Request{
		Method: http.MethodPut,
		Header: http.Header{"Content-Type": {"application/fhir+json"}, "Prefer": {"return=minimal"}},
		Vary: func(worker, n int) (string, []byte) {
			newID := fmt.Sprintf("bench-%d-%d", worker, n)
			return base + "/Bundle/" + newID, bytes.Replace(bundle, old, []byte(`"`+newID+`"`), 1)
		},
	}
	return runEngine(cfg, "gateway", req, conc, d, func(l *engine.Listener) string { return "http://" + l.BoundAddr() + base + "/Bundle/x" })
}

// benchJunction runs an engine with the channel's source, filter and transform and one
// file destination, all in a temporary folder.
func benchJunction(cfg []byte, body []byte, conc int, d time.Duration) (benchResult, error) {
	req := loadgen.Request{Body: body, Header: ingestHeaders(), Check: func(status int, b []byte) error {
		if !bytes.Contains(b, []byte("\rMSA|AA|")) {
			return fmt.Errorf("not an AA ACK: %.200q", b)
		}
		return nil
	}}
	return runEngine(cfg, "junction", req, conc, d, func(l *engine.Listener) string { return "http://" + l.BoundAddr() + "/$ingest" })
}

// runEngine starts an engine with cfg (one channel named bench) in a temporary folder, runs
// the load against the URL urlOf gives for its listener, waits for the destination queues
// to drain, and prints a row.
func runEngine(cfg []byte, target string, req loadgen.Request, conc int, d time.Duration, urlOf func(*engine.Listener) string) (benchResult, error) {
	dir, err := os.MkdirTemp("", "junction-bench")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(dir)
	cfgFile := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		return benchResult{}, err
	}
	eng, err := engine.LoadBytes(cfgFile, cfg)
	if err != nil {
		return benchResult{}, fmt.Errorf("bench configuration: %w", err)
	}
	eng.Log = discardLogger()
	store, err := sqlite.Open(eng.StorePath, sqlite.Options{})
	if err != nil {
		return benchResult{}, err
	}
	if err := eng.Start(store); err != nil {
		store.Close()
		return benchResult{}, err
	}
	req.URL = urlOf(eng.Listeners()[0])
	start, cpu0 := time.Now(), cpuTime()
	commits0, items0 := store.WriterCounts()
	res, err := loadgen.Run(context.Background(), req, conc, d)
	if err != nil {
		eng.Stop(context.Background())
		store.Close()
		return benchResult{}, err
	}
	// Delivery runs behind the answers: wait for the destination queues to drain.
	ok := res.Requests - res.Errors
	for {
		stats, err := store.Stats(context.Background())
		queued := int64(0)
		for _, d := range stats["bench"].Destinations {
			queued += d.Queued
		}
		if err != nil || queued == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	deliveredIn, cpu := time.Since(start), cpuTime()-cpu0
	commits, items := store.WriterCounts()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng.Stop(ctx)
	r := benchResult{Result: res}
	if ok > 0 {
		r.delivered = float64(ok) / deliveredIn.Seconds()
		r.cpuPerMsg = cpu / time.Duration(ok)
		if commits > commits0 {
			r.perCommit = float64(items-items0) / float64(commits-commits0)
		}
		if size, err := store.SizeBytes(); err == nil {
			r.bytesPerMsg = float64(size) / float64(ok)
		}
	}
	store.Close()
	printRow(target, r)
	if res.FirstError != nil {
		fmt.Printf("  first error: %v\n", res.FirstError)
	}
	return r, nil
}

// contractChannel is the example channel of the engine's contract (routes.yaml's reference
// in the README): what `make bench` measures on $ingest unless -channel names another.
const contractChannel = `store: { path: junction.db }
admin: { listen: "127.0.0.1:0" }
channels:
  - name: bench
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      data_types: [Hl7v2]
      ack: { application: DEX, facility: QVV }
    filter:
      - 'get("MSH-9.1") in ["ADT", "ORU"]'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
    destinations:
      - { name: archive, type: file, dir: out, filename: "{channel}-{date}.{ext}", append: true }
`

// benchConfig is a one-channel routes.yaml: ch as written in its file (source settings,
// filter, transform, file destinations), listening on a free loopback port, writing into the
// bench's folder. Other destination types are left out: they would need their peers.
func benchConfig(ch *engine.Channel) ([]byte, error) {
	var items []map[string]any
	if err := yaml.Unmarshal([]byte(ch.Section), &items); err != nil || len(items) != 1 {
		return nil, fmt.Errorf("cannot read channel %s back from its file: %v", ch.Name, err)
	}
	c := items[0]
	c["name"] = "bench"
	src, _ := c["source"].(map[string]any)
	if src == nil || src["type"] != "ingest" {
		return nil, fmt.Errorf("channel %s: bench measures an ingest source", ch.Name)
	}
	src["listen"] = "127.0.0.1:0"
	src["domain"] = "emergency-care"
	src["data_types"] = []string{"Hl7v2"}
	var dests []any
	dl, _ := c["destinations"].([]any)
	for i, d := range dl {
		if m, ok := d.(map[string]any); ok && m["type"] == "file" {
			m["dir"] = fmt.Sprintf("out/%d", i)
			dests = append(dests, m)
		}
	}
	if len(dests) == 0 {
		dests = []any{map[string]any{"name": "archive", "type": "file", "dir": "out"}}
	}
	c["destinations"] = dests
	cfg := map[string]any{
		"store":    map[string]any{"path": "junction.db"},
		"admin":    map[string]any{"listen": "127.0.0.1:0"},
		"channels": []any{c},
	}
	return yaml.Marshal(cfg)
}

func ingestHeaders() http.Header {
	return http.Header{
		"Content-Type":      {"text/plain; charset=utf-8"},
		"Source-Domain":     {"emergency-care"},
		"Organisation-Code": {"r0d"},
		"Data-Type":         {"Hl7v2"},
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
