package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"junction/fhir"
)

// fhirpathCmd evaluates a FHIRPath expression against a FHIR resource, printing the result
// collection as a JSON array (exit 0), or the error on stderr (exit 1; 2 for bad usage).
func fhirpathCmd(args []string) int {
	flags := flag.NewFlagSet("fhirpath", flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	var pkgs listFlag
	flags.Var(&pkgs, "package", "FHIR package whose definitions the expression may use (repeatable)")
	resource := flags.String("resource", "", "the resource, JSON or XML, the expression is evaluated against (- for stdin; none: no input)")
	typed := flags.Bool("types", false, `print each item as {"type":…,"value":…}`)
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction fhirpath [-package PKG]... [-resource FILE] [-types] EXPR")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	var data []byte
	var err error
	switch *resource {
	case "":
	case "-":
		data, err = io.ReadAll(os.Stdin)
	default:
		data, err = os.ReadFile(*resource)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction fhirpath:", err)
		return 2
	}
	loaded := make([]*fhir.Package, 0, len(pkgs))
	for _, p := range pkgs {
		pkg, err := fhir.LoadPackage(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "junction fhirpath: package %s: %v\n", p, err)
			return 2
		}
		loaded = append(loaded, pkg)
	}
	res, err := fhir.EvaluateFHIRPath(data, flags.Arg(0), loaded...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction fhirpath:", err)
		return 1
	}
	var out any = res
	if !*typed {
		vals := make([]json.RawMessage, len(res))
		for i, r := range res {
			vals[i] = r.Value
		}
		out = vals
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "junction fhirpath:", err)
		return 1
	}
	return 0
}
