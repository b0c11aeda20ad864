package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/internal/bareref"
	"junction/internal/loadgen"
	"junction/transforms"
)

// bench measures $ingest end to end (HTTP, filter, transform, durable store, file
// destination) against a bare reference: a plain handler that group-commits each body to
// SQLite. Figures are printed as a ratio too, since these machines are shared and noisy.
func bench(args []string) int {
	flags := flag.NewFlagSet("bench", flag.ExitOnError)
	config := flags.String("config", "routes.yaml", "configuration whose channel's filter and transform are measured")
	channel := flags.String("channel", "ed-adt", "channel of -config to measure")
	msgFile := flags.String("message", "hl7/testdata/adt_a01.hl7", "HL7v2 message to post")
	dur := flags.Duration("duration", 10*time.Second, "time per concurrency level")
	levels := flags.String("concurrency", "1,16,64", "concurrency levels")
	flags.Parse(args)

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
	ch := src.Channel(*channel)
	if ch == nil {
		fmt.Fprintf(os.Stderr, "bench: %s has no channel %q\n", *config, *channel)
		return 1
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

	fmt.Printf("junction bench: %s, %d-byte HL7v2 message, channel %s of %s, %s per level\n", time.Now().Format("2006-01-02"), len(body), ch.Name, *config, *dur)
	fmt.Printf("machine: %s/%s, %d CPUs (GOMAXPROCS %d); load generator in the same process\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("%-10s %5s %10s %9s %9s %7s %10s %12s\n", "target", "conc", "msg/s", "p50", "p99", "errors", "bytes/msg", "delivered/s")
	for _, c := range concs {
		ref, err := benchBare(body, c, *dur)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: bare reference:", err)
			return 1
		}
		j, err := benchJunction(ch, body, c, *dur)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: junction:", err)
			return 1
		}
		ratio := 0.0
		if ref.PerSecond > 0 {
			ratio = j.PerSecond / ref.PerSecond
		}
		fmt.Printf("%s  -> junction/bare = %.2f\n\n", "", ratio)
	}
	return 0
}

type benchResult struct {
	loadgen.Result
	bytesPerMsg float64
	delivered   float64
}

func printRow(target string, r benchResult) {
	del := "-"
	if r.delivered > 0 {
		del = fmt.Sprintf("%.0f", r.delivered)
	}
	fmt.Printf("%-10s %5d %10.0f %9s %9s %7d %10.0f %12s\n", target, r.Concurrency, r.PerSecond, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors, r.bytesPerMsg, del)
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
	res, err := loadgen.Run(context.Background(), loadgen.Request{URL: url, Body: body, Header: ingestHeaders()}, conc, d)
	stop()
	if err != nil {
		return benchResult{}, err
	}
	r := benchResult{Result: res}
	if res.Requests > 0 {
		r.bytesPerMsg = float64(dirSize(dir)) / float64(res.Requests-res.Errors)
	}
	printRow("bare", r)
	return r, nil
}

// benchJunction runs an engine with the channel's source, filter and transform and one
// file destination, all in a temporary folder.
func benchJunction(ch *engine.Channel, body []byte, conc int, d time.Duration) (benchResult, error) {
	dir, err := os.MkdirTemp("", "junction-bench")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(dir)
	cfg := benchConfig(ch)
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
	url := "http://" + eng.Listeners()[0].BoundAddr() + "/$ingest"
	req := loadgen.Request{URL: url, Body: body, Header: ingestHeaders(), Check: func(status int, b []byte) error {
		if !bytes.Contains(b, []byte("\rMSA|AA|")) {
			return fmt.Errorf("not an AA ACK: %.200q", b)
		}
		return nil
	}}
	start := time.Now()
	res, err := loadgen.Run(context.Background(), req, conc, d)
	if err != nil {
		eng.Stop(context.Background())
		store.Close()
		return benchResult{}, err
	}
	// Delivery runs behind the ACKs: wait for the file destination's queue to drain.
	ok := res.Requests - res.Errors
	for {
		stats, err := store.Stats(context.Background())
		if err != nil || stats["bench"].Destinations["archive"].Queued == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	deliveredIn := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng.Stop(ctx)
	r := benchResult{Result: res}
	if ok > 0 {
		r.delivered = float64(ok) / deliveredIn.Seconds()
		if size, err := store.SizeBytes(); err == nil {
			r.bytesPerMsg = float64(size) / float64(ok)
		}
	}
	store.Close()
	printRow("junction", r)
	if res.FirstError != nil {
		fmt.Printf("  first error: %v\n", res.FirstError)
	}
	return r, nil
}

// benchConfig is a one-channel routes.yaml with ch's source settings, filter and transform.
func benchConfig(ch *engine.Channel) []byte {
	cfg := map[string]any{
		"store": map[string]any{"path": "junction.db"},
		"admin": map[string]any{"listen": "127.0.0.1:0"},
		"channels": []any{map[string]any{
			"name": "bench",
			"source": map[string]any{
				"type": "ingest", "listen": "127.0.0.1:0", "domain": "emergency-care", "data_types": ch.DataTypes,
				"ack": map[string]any{"application": "DEX", "facility": "QVV"},
			},
			"filter":       scriptSources(ch.Filters),
			"transform":    scriptSources(ch.Transforms),
			"destinations": []any{map[string]any{"name": "archive", "type": "file", "dir": "out"}},
		}},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return out
}

func scriptSources(ps []*transforms.Program) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Source
	}
	return out
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
