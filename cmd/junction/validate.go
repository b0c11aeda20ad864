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
// OperationOutcome per file. Exit 1 when any has an error, 2 when it could not run.
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
	code := 0
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	for _, file := range flags.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "junction validate:", err)
			return 2
		}
		oo, err := v.Validate(data, fhir.Options{Profiles: profiles})
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
