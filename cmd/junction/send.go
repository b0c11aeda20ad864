package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// send posts message files to a $ingest endpoint as a sender would, printing each answer:
// a quick way to try a channel without a sending engine.
func send(args []string) int {
	flags := flag.NewFlagSet("send", flag.ExitOnError)
	url := flags.String("url", "http://localhost:8000/$ingest", "the $ingest endpoint")
	domain := flags.String("domain", "emergency-care", "source-domain header")
	org := flags.String("org", "r0d", "organisation-code header")
	dataType := flags.String("type", "", "data-type header: Hl7v2, FHIR or CSV (default: from the file's extension or content)")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction send [-url URL] [-domain D] [-org CODE] [-type Hl7v2|FHIR|CSV] FILE...")
		flags.PrintDefaults()
	}
	flags.Parse(args)
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	client := &http.Client{Timeout: 60 * time.Second}
	code := 0
	for _, file := range flags.Args() {
		body, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "junction send:", err)
			return 2
		}
		dt := *dataType
		if dt == "" {
			dt = guessDataType(file, body)
		}
		req, err := http.NewRequest(http.MethodPost, *url, bytes.NewReader(body))
		if err != nil {
			fmt.Fprintln(os.Stderr, "junction send:", err)
			return 2
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		req.Header.Set("source-domain", *domain)
		req.Header.Set("organisation-code", *org)
		req.Header.Set("data-type", dt)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintf(os.Stderr, "junction send: %s: %v\n", file, err)
			code = 1
			continue
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("== %s: %s\n%s\n", file, resp.Status, strings.TrimRight(strings.ReplaceAll(string(answer), "\r", "\n"), "\n"))
		if resp.StatusCode != http.StatusOK {
			code = 1
		}
	}
	return code
}

func guessDataType(file string, body []byte) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return "FHIR"
	case ".csv":
		return "CSV"
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
		return "FHIR"
	}
	return "Hl7v2"
}
