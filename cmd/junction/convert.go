package main

import (
	"flag"
	"fmt"
	"os"

	"junction/hl7tofhir"
)

// convert prints the FHIR transaction Bundle each HL7v2 file converts to (or why it does
// not), so mappings can be checked without a server.
func convert(args []string) int {
	flags := flag.NewFlagSet("convert", flag.ExitOnError)
	config := flags.String("config", "", "routes.yaml whose channel's tofhir settings to use (default: the built-in defaults)")
	channel := flags.String("channel", "", "with -config: the channel")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction convert [-config routes.yaml -channel NAME] FILE...")
		flags.PrintDefaults()
	}
	flags.Parse(args)
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	conv, err := hl7tofhir.NewConverter(hl7tofhir.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "junction convert:", err)
		return 2
	}
	if *config != "" {
		eng, ok := load(*config)
		if !ok {
			return 2
		}
		ch := eng.Channel(*channel)
		if ch == nil {
			fmt.Fprintf(os.Stderr, "junction convert: %s has no channel %q\n", *config, *channel)
			return 2
		}
		if ch.Converter != nil {
			conv = ch.Converter
		}
	}
	code := 0
	for _, file := range flags.Args() {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "junction convert:", err)
			return 2
		}
		res, err := conv.Convert(raw)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			code = 1
			continue
		}
		if flags.NArg() > 1 {
			fmt.Fprintf(os.Stderr, "== %s\n", file)
		}
		os.Stdout.Write(res.JSON())
		fmt.Println()
	}
	return code
}
