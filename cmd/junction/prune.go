package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"text/tabwriter"

	"junction/engine"
	"junction/engine/store/sqlite"
)

const pruneUsage = "usage: junction prune [-config routes.yaml] [-dry-run]"

// pruneCmd is `junction prune`: one retention pass now over the configuration's message
// store, as `junction serve`'s pruner runs every few minutes. With -dry-run it counts
// per channel what would go, through read-only connections, and changes nothing. It may
// run beside `junction serve` on the same store (SQLite's locks and busy timeout order
// the two processes' writes; each batch is a short transaction). Exit 1 when the pass
// fails, 2 when it cannot start.
func pruneCmd(args []string) int {
	flags := flag.NewFlagSet("prune", flag.ExitOnError)
	config := flags.String("config", "routes.yaml", "configuration whose retention (retention:) and store (store.path) to use")
	dry := flags.Bool("dry-run", false, "print per channel what would be removed, and change nothing")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, pruneUsage)
		flags.PrintDefaults()
	}
	flags.Parse(args)
	if flags.NArg() > 0 {
		flags.Usage()
		return 2
	}
	eng, ok := load(*config)
	if !ok {
		return 2
	}
	return runPrune(context.Background(), eng, *dry, os.Stdout, os.Stderr)
}

func runPrune(ctx context.Context, eng *engine.Engine, dry bool, out, errOut io.Writer) int {
	if !eng.RetentionConfigured() {
		fmt.Fprintf(out, "%s: no retention is configured: every message is kept for ever (see retention: in the README)\n", eng.File)
		return 0
	}
	if dry {
		rep, err := sqlite.DryPrune(ctx, eng.StorePath, eng.PruneOptions(true))
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(out, "%s: no store yet, nothing to prune\n", eng.StorePath)
			return 0
		}
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", eng.StorePath, err)
			return 1
		}
		fmt.Fprintf(out, "%s: dry run, nothing changed; a pass now would remove:\n", eng.StorePath)
		printPrune(out, eng, rep)
		return 0
	}
	if _, err := os.Stat(eng.StorePath); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "%s: no store yet, nothing to prune\n", eng.StorePath)
		return 0
	}
	st, err := sqlite.Open(eng.StorePath, sqlite.Options{NoIndexer: true})
	if err != nil {
		fmt.Fprintln(errOut, err)
		return 1
	}
	defer st.Close()
	eng.Log = slog.New(slog.NewTextHandler(errOut, nil))
	before, _ := st.Size(ctx)
	rep, err := eng.Prune(ctx, st, false, "junction prune")
	after, _ := st.Size(ctx)
	fmt.Fprintf(out, "%s: removed:\n", eng.StorePath)
	printPrune(out, eng, rep)
	fmt.Fprintf(out, "store: %.1f MiB before, %.1f MiB after\n", mib(before), mib(after))
	if on, verr := st.AutoVacuum(ctx); verr == nil && !on {
		fmt.Fprintln(out, "note: this store was created before Junction had retention: the space freed is reused by new messages, but the file does not shrink until a one-off VACUUM (README, Retention)")
	}
	if err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", eng.StorePath, err)
		return 1
	}
	return 0
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// printPrune prints one line per channel: its retention and the counts.
func printPrune(out io.Writer, eng *engine.Engine, rep engine.PruneReport) {
	o := eng.PruneOptions(true)
	var names []string
	for _, ch := range eng.Channels() {
		names = append(names, ch.Name)
	}
	for name := range rep.Channels {
		if !slices.Contains(names, name) {
			names = append(names, name) // in the store, no longer configured: the default
		}
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "channel\tretention\tcontent removed\tmessages removed\tkept (queued or error)")
	for _, name := range names {
		label := name
		r, ok := o.Channels[name]
		if !ok {
			r, label = o.Default, name+" (not configured: the default)"
		}
		c := rep.Channels[name]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", label, r, c.Content, c.Messages, c.Held)
	}
	tw.Flush()
}
