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
	"slices"
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
// SQLite; and the same channel with an MLLP source (bench_mllp.go). Figures are printed as
// ratios too, since these machines are shared and noisy.
func bench(args []string) int {
	flags := flag.NewFlagSet("bench", flag.ExitOnError)
	config := flags.String("config", "routes.yaml", "configuration whose channel's filter and transform are measured")
	channel := flags.String("channel", "", "channel of -config to measure on $ingest (default: the engine contract's example channel, see contractChannel)")
	msgFile := flags.String("message", "hl7/testdata/adt_a01.hl7", "HL7v2 message to post")
	dur := flags.Duration("duration", 6*time.Second, "time per run")
	runs := flags.Int("runs", 3, "runs per concurrency level, alternating bare, junction and mllp; the median ratios are reported")
	levels := flags.String("concurrency", "1,16,64", "concurrency levels")
	mllpLevels := flags.String("mllp", "1,16", "concurrency levels (connections) at which to measure the same channel with an MLLP source too (empty: none)")
	only := flags.String("only", "", "run only this target: junction, bare, mllp, perfile, httpdest, gateway or search")
	gateway := flags.String("gateway", "care-gateway", "fhir-bundle channel of -config to measure with -bundle (empty: skip)")
	bundleFile := flags.String("bundle", "fhir/testdata/seed-care-delivery-report.json", "FHIR Bundle to PUT to the gateway, under a new id each time")
	searchSizes := flags.String("search", "100000,1000000", "store sizes (messages) over which to measure text search latency (empty: none)")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := flags.String("memprofile", "", "write an allocation profile of the whole run to this file")
	flags.Parse(args)
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer stopProfiles()

	body, err := os.ReadFile(*msgFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	body = crLines(body)
	src, ok := load(*config)
	if !ok {
		return 1
	}
	b := &benchRun{body: body, dur: *dur, runs: max(*runs, 1), only: *only}
	what := "the contract's example channel (filter on MSH-9.1, upper-case PID-5.1, append to a daily file)"
	if b.ingestCfg, b.mllpCfg, err = benchConfigs(src, *channel); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if *channel != "" {
		what = fmt.Sprintf("channel %s of %s", *channel, *config)
	}
	sink, stopSink, err := startSink()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer stopSink()
	if b.perFileCfg, err = perFileConfig(b.ingestCfg); err == nil {
		b.httpDestCfg, err = httpDestConfig(b.ingestCfg, sink)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	concs, err := parseLevels(*levels)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: bad -concurrency %q\n", *levels)
		return 1
	}
	if b.mllpAt, err = parseLevels(*mllpLevels); err != nil {
		fmt.Fprintf(os.Stderr, "bench: bad -mllp %q\n", *mllpLevels)
		return 1
	}

	fmt.Printf("junction bench: %s, %d-byte HL7v2 message through %s, %s per level\n", time.Now().Format("2006-01-02"), len(body), what, *dur)
	fmt.Printf("machine: %s/%s, %d CPUs (GOMAXPROCS %d); load generator in the same process\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if len(b.mllpAt) > 0 && (*only == "" || *only == "mllp") {
		fmt.Printf("mllp: the same channel with an MLLP source on loopback, one connection per worker, each message sent when the previous ACK is back\n")
	}
	fmt.Println()
	if *only != "gateway" && *only != "search" {
		fmt.Printf("%-10s %5s %10s %9s %9s %7s %10s %12s %9s %11s\n", "target", "conc", "msg/s", "p50", "p99", "errors", "bytes/msg", "delivered/s", "cpu/msg", "req/commit")
		for _, c := range mergeLevels(concs, b.mllpAt) {
			if err := b.level(c, slices.Contains(concs, c)); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
		}
	}
	if *gateway != "" && (*only == "" || *only == "gateway") {
		if code := benchGateways(src, *gateway, *bundleFile, concs, *dur); code != 0 {
			return code
		}
	}
	if *searchSizes != "" && (*only == "" || *only == "search") {
		sizes, err := parseLevels(*searchSizes)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: bad -search %q\n", *searchSizes)
			return 1
		}
		fmt.Println()
		for _, n := range sizes {
			if err := benchSearch(n, 200); err != nil {
				fmt.Fprintln(os.Stderr, "bench: search:", err)
				return 1
			}
		}
	}
	return 0
}

// startProfiles starts the CPU profile and returns what writes both profiles at the end.
func startProfiles(cpuProfile, memProfile string) (func(), error) {
	var f *os.File
	if cpuProfile != "" {
		var err error
		if f, err = os.Create(cpuProfile); err != nil {
			return nil, err
		}
		pprof.StartCPUProfile(f)
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if memProfile != "" {
			if mf, err := os.Create(memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(mf, 0)
				mf.Close()
			}
		}
	}, nil
}

func parseLevels(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("bad level %q", s)
		}
		out = append(out, c)
	}
	return out, nil
}

// mergeLevels is a followed by the levels of b it lacks.
func mergeLevels(a, b []int) []int {
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// benchRun is what the $ingest and MLLP levels share.
type benchRun struct {
	body               []byte
	ingestCfg, mllpCfg []byte
	perFileCfg         []byte // the channel with one file per message
	httpDestCfg        []byte // the channel with an HTTP destination to a loopback sink
	dur                time.Duration
	runs               int
	only               string // "": every target
	mllpAt             []int  // levels at which the MLLP source is measured
}

// level measures one concurrency level: bare and junction ($ingest) when it is one of
// -concurrency's (withHTTP), mllp when it is one of -mllp's. Runs alternate so that the
// targets meet the same noise; the medians of the paired ratios are the figures to quote.
func (b *benchRun) level(c int, withHTTP bool) error {
	want := func(target string) bool { return b.only == "" || b.only == target }
	runBare, runIngest := withHTTP && want("bare"), withHTTP && want("junction")
	runPerFile, runHTTPDest := withHTTP && want("perfile"), withHTTP && want("httpdest")
	runMLLP := slices.Contains(b.mllpAt, c) && want("mllp")
	if !runBare && !runIngest && !runMLLP && !runPerFile && !runHTTPDest {
		return nil
	}
	var vsBare, vsIngest, perFile, httpDest []float64
	ratio := func(to *[]float64, a, b float64) {
		if a > 0 && b > 0 {
			*to = append(*to, a/b)
		}
	}
	for r := 0; r < b.runs; r++ {
		var ref, j, m, pf, hd benchResult
		var err error
		if runBare {
			if ref, err = benchBare(b.body, c, b.dur); err != nil {
				return fmt.Errorf("bare reference: %w", err)
			}
		}
		if runIngest {
			if j, err = benchJunction(b.ingestCfg, "junction", b.body, c, b.dur); err != nil {
				return fmt.Errorf("junction: %w", err)
			}
		}
		if runMLLP {
			if m, err = benchMLLP(b.mllpCfg, b.body, c, b.dur); err != nil {
				return fmt.Errorf("mllp: %w", err)
			}
		}
		if runPerFile {
			if pf, err = benchJunction(b.perFileCfg, "perfile", b.body, c, b.dur); err != nil {
				return fmt.Errorf("perfile: %w", err)
			}
		}
		if runHTTPDest {
			if hd, err = benchJunction(b.httpDestCfg, "httpdest", b.body, c, b.dur); err != nil {
				return fmt.Errorf("httpdest: %w", err)
			}
		}
		ratio(&vsBare, j.PerSecond, ref.PerSecond)
		ratio(&vsIngest, m.PerSecond, j.PerSecond)
		ratio(&perFile, pf.delivered, j.delivered)
		ratio(&httpDest, hd.delivered, j.delivered)
	}
	printRatios("junction/bare", c, vsBare)
	printRatios("mllp/junction (the same channel over $ingest)", c, vsIngest)
	printRatios("perfile/junction (delivered/s: one file per message against the appending file)", c, perFile)
	printRatios("httpdest/junction (delivered/s: an HTTP destination to a loopback receiver against the appending file)", c, httpDest)
	fmt.Println()
	return nil
}

// printRatios prints the median of a level's paired ratios, and each of them.
func printRatios(what string, c int, ratios []float64) {
	if len(ratios) == 0 {
		return
	}
	all := make([]string, len(ratios))
	for i, r := range ratios {
		all[i] = fmt.Sprintf("%.2f", r)
	}
	sort.Float64s(ratios)
	fmt.Printf("  -> %s at concurrency %d: median %.2f (runs: %s)\n", what, c, ratios[len(ratios)/2], strings.Join(all, ", "))
}

// benchGateways measures the fhir-bundle channel gateway of src at each level.
func benchGateways(src *engine.Engine, gateway, bundleFile string, concs []int, d time.Duration) int {
	gw := src.Channel(gateway)
	if gw == nil {
		fmt.Fprintf(os.Stderr, "bench: %s has no channel %q\n", src.File, gateway)
		return 1
	}
	bundle, err := os.ReadFile(bundleFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Printf("Care Gateway: PUT %s (%d bytes) to channel %s: validated, stored, forwarded to a file\n", bundleFile, len(bundle), gw.Name)
	fmt.Printf("%-10s %5s %10s %9s %9s %7s %10s %12s %9s %11s\n", "target", "conc", "bundles/s", "p50", "p99", "errors", "bytes/msg", "delivered/s", "cpu/msg", "req/commit")
	for _, c := range concs {
		if _, err := benchGateway(src, gw, bundle, c, d); err != nil {
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
	return runEngine(cfg, "gateway", func(eng *engine.Engine) (loadgen.Result, error) {
		req.URL = "http://" + eng.BoundAddr("HTTP") + base + "/Bundle/x"
		return loadgen.Run(context.Background(), req, conc, d)
	})
}

// benchJunction runs an engine with the channel's source, filter and transform and one
// file destination, all in a temporary folder.
func benchJunction(cfg []byte, target string, body []byte, conc int, d time.Duration) (benchResult, error) {
	req := loadgen.Request{Body: body, Header: ingestHeaders(), Check: func(status int, b []byte) error {
		if !bytes.Contains(b, []byte("\rMSA|AA|")) {
			return fmt.Errorf("not an AA ACK: %.200q", b)
		}
		return nil
	}}
	return runEngine(cfg, target, func(eng *engine.Engine) (loadgen.Result, error) {
		req.URL = "http://" + eng.BoundAddr("HTTP") + "/$ingest"
		return loadgen.Run(context.Background(), req, conc, d)
	})
}

// runEngine starts an engine with cfg (one channel named bench) in a temporary folder, runs
// the load against it, waits for the destination queues to drain, and prints a row.
func runEngine(cfg []byte, target string, load func(*engine.Engine) (loadgen.Result, error)) (benchResult, error) {
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
	serveMetrics(eng, store) // measured with the metrics on, as serve runs (metrics.go)
	if err := eng.Start(store); err != nil {
		store.Close()
		return benchResult{}, err
	}
	start, cpu0 := time.Now(), cpuTime()
	commits0, items0 := store.WriterCounts()
	res, err := load(eng)
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

// benchConfigs are the one-channel routes.yaml measured on $ingest and over MLLP: the
// contract's example channel, or channel of src when it is named.
func benchConfigs(src *engine.Engine, channel string) (ingest, overMLLP []byte, err error) {
	ingest = []byte(contractChannel)
	if channel != "" {
		ch := src.Channel(channel)
		if ch == nil {
			return nil, nil, fmt.Errorf("%s has no channel %q", src.File, channel)
		}
		if ingest, err = benchConfig(ch); err != nil {
			return nil, nil, err
		}
	}
	overMLLP, err = mllpConfig(ingest)
	return ingest, overMLLP, err
}

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

// crLines ends every line of an HL7v2 message written with LF or CR LF with a CR alone.
func crLines(msg []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\r")), []byte("\n"), []byte("\r"))
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
