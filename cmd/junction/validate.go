package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"junction/fhir"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// validate checks FHIR resources offline against R4 and the given packages, printing one
// OperationOutcome per file. Exit 1 when any has an error, 2 when it could not run. The
// files given are each other's context: resolve() in an invariant of one reaches the others
// by Type/id, as the IG Publisher resolves against the other examples of a guide.
func validate(args []string) int {
	flags := flag.NewFlagSet("validate", flag.ExitOnError)
	var pkgs, profiles listFlag
	flags.Var(&pkgs, "package", "FHIR package: a .tgz, an unpacked folder, or loose conformance-resource JSON files (repeatable)")
	flags.Var(&profiles, "profile", "profile URL the resources must conform to (repeatable: any of them)")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction validate [-package PKG]... [-profile URL]... FILE...")
		flags.PrintDefaults()
	}
	flags.Parse(args)
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	loaded := make([]*fhir.Package, 0, len(pkgs))
	for _, p := range pkgs {
		pkg, err := fhir.LoadPackage(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "junction validate: package %s: %v\n", p, err)
			return 2
		}
		loaded = append(loaded, pkg)
	}
	v, err := fhir.NewValidator(loaded...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction validate:", err)
		return 2
	}
	files := make([][]byte, flags.NArg())
	for i, file := range flags.Args() {
		if files[i], err = os.ReadFile(file); err != nil {
			fmt.Fprintln(os.Stderr, "junction validate:", err)
			return 2
		}
	}
	opts := fhir.Options{Profiles: profiles, Context: contextOf(v, files)}
	code := 0
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	for i, file := range flags.Args() {
		oo, err := v.Validate(files[i], opts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "junction validate: %s: %v\n", file, err)
			return 2
		}
		if len(flags.Args()) > 1 {
			fmt.Fprintf(os.Stderr, "== %s\n", file)
		}
		enc.Encode(oo)
		if oo.HasError() {
			code = 1
		}
	}
	return code
}

// contextOf reads the files as the resources each validation may resolve to; those that are
// not resources are left out (their own validation says why).
func contextOf(v *fhir.Validator, files [][]byte) *fhir.Resources {
	if len(files) < 2 {
		return nil
	}
	rs, _ := v.NewResources()
	for _, f := range files {
		rs.Add(f)
	}
	return rs
}
