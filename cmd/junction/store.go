package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"junction/engine"
	"junction/engine/store/sqlite"
	"junction/fhirstore"
)

const storeUsage = "usage: junction store check [-config routes.yaml]"

// storeCmd is `junction store check`: a full PRAGMA integrity_check of the message store
// and of every fhir-store destination's file of a configuration, read-only (it may run
// beside `junction serve`). Exit 1 when any file has a problem or cannot be checked, 2
// when the command could not run.
func storeCmd(args []string) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, storeUsage)
		return 2
	}
	flags := flag.NewFlagSet("store check", flag.ExitOnError)
	config := flags.String("config", "routes.yaml", "configuration whose message store (store.path) and fhir-store files to check")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, storeUsage)
		flags.PrintDefaults()
	}
	flags.Parse(args[1:])
	if flags.NArg() > 0 {
		flags.Usage()
		return 2
	}
	eng, ok := load(*config)
	if !ok {
		return 2
	}
	fhirPaths := fhirStorePaths(eng)
	ctx := context.Background()
	rep, err := sqlite.Check(ctx, eng.StorePath)
	sound := printCheck("message store", eng.StorePath, storeReport(rep), err)
	for _, p := range fhirPaths {
		rep, err := fhirstore.Check(ctx, p)
		sound = printCheck("FHIR store", p, storeReport(rep), err) && sound
	}
	if !sound {
		return 1
	}
	return 0
}

// storeReport is what both stores' Check report.
type storeReport sqlite.CheckReport

// printCheck prints one file's result on standard output and reports whether it is sound.
func printCheck(kind, path string, rep storeReport, err error) bool {
	switch {
	case err != nil:
		if abs, aerr := filepath.Abs(path); aerr == nil {
			path = abs
		}
		fmt.Printf("%s: %s: cannot be checked: %v\n", path, kind, err)
		return false
	case rep.Missing:
		fmt.Printf("%s: %s: no such file yet, nothing to check (it is created at the first start)\n", rep.Path, kind)
		return true
	}
	unmarked := ""
	if rep.Unmarked {
		unmarked = "; written by an earlier Junction, marked as Junction's at the next start"
	}
	size := fmt.Sprintf("%.1f MiB", float64(rep.Bytes)/(1<<20))
	if len(rep.Problems) == 0 {
		fmt.Printf("%s: %s: ok (PRAGMA integrity_check of %s in %s%s)\n", rep.Path, kind, size, rep.Took.Round(time.Millisecond), unmarked)
		return true
	}
	capped := ""
	if len(rep.Problems) >= 100 {
		capped = ", the most it lists"
	}
	fmt.Printf("%s: %s: CORRUPT: PRAGMA integrity_check of %s found %d problems%s%s:\n", rep.Path, kind, size, len(rep.Problems), capped, unmarked)
	for _, p := range rep.Problems {
		fmt.Println("  " + p)
	}
	fmt.Printf("  restore %s from a backup, or move it (with its -wal and -shm files) away\n", filepath.Base(rep.Path))
	return false
}

// fhirStorePaths lists the files of the configuration's fhir-store destinations, each
// once (destinations that keep a SQLite file of their own say so with StoreFile).
func fhirStorePaths(eng *engine.Engine) []string {
	var paths []string
	for _, ch := range eng.Channels() {
		for _, d := range ch.Destinations {
			f, ok := d.Dest.(interface{ StoreFile() string })
			if ok && !slices.Contains(paths, f.StoreFile()) {
				paths = append(paths, f.StoreFile())
			}
		}
	}
	return paths
}
