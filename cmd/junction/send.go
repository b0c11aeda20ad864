package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"junction/connectors"
	"junction/hl7"
	"junction/mllp"
)

// send posts message files to a $ingest endpoint as a sender would, or sends them over
// MLLP (-mllp), printing each answer: a quick way to try a channel without a sending
// engine.
func send(args []string) int {
	flags := flag.NewFlagSet("send", flag.ExitOnError)
	url := flags.String("url", "http://localhost:8000/$ingest", "the $ingest endpoint")
	domain := flags.String("domain", "emergency-care", "source-domain header")
	org := flags.String("org", "r0d", "organisation-code header")
	dataType := flags.String("type", "", "data-type header: Hl7v2, FHIR or CSV (default: from the file's extension or content)")
	mllpAddr := flags.String("mllp", "", "send HL7v2 over MLLP to this host:port instead of posting to -url: one connection, each message its own frame (a batch file one frame), each ACK printed")
	useTLS := flags.Bool("tls", false, "MLLP over TLS (implied by -cacert and -cert)")
	caFile := flags.String("cacert", "", "MLLP over TLS: trust the CA certificates in this PEM file (default: the system's)")
	certFile := flags.String("cert", "", "MLLP over TLS: present this client certificate (PEM; with -key) for mutual TLS")
	keyFile := flags.String("key", "", "MLLP over TLS: the client certificate's key (PEM)")
	flags.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: junction send [-url URL] [-domain D] [-org CODE] [-type Hl7v2|FHIR|CSV] FILE...")
		fmt.Fprintln(os.Stderr, "       junction send -mllp HOST:PORT [-tls] [-cacert FILE] [-cert FILE -key FILE] FILE...")
		flags.PrintDefaults()
	}
	flags.Parse(args)
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	if *mllpAddr != "" {
		var cfg *tls.Config
		if *useTLS || *caFile != "" || *certFile != "" || *keyFile != "" {
			var err error
			if cfg, err = connectors.ClientTLSConfig(*caFile, *certFile, *keyFile, ""); err != nil {
				fmt.Fprintln(os.Stderr, "junction send:", err)
				return 2
			}
		}
		return sendMLLP(os.Stdout, os.Stderr, *mllpAddr, cfg, flags.Args())
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

// sendMLLP sends every message of the files over one MLLP connection, in order, and
// prints each answer to stdout (problems to stderr); 1 when any answer is not AA or CA
// (or none came), 2 when a file cannot be read or holds no HL7v2.
func sendMLLP(stdout, stderr io.Writer, addr string, cfg *tls.Config, files []string) int {
	client := mllp.NewClient(addr, cfg, mllp.ClientOptions{AckTimeout: time.Minute})
	defer client.Close()
	code := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, "junction send:", err)
			return 2
		}
		frames, err := mllpFrames(data)
		if err != nil {
			fmt.Fprintf(stderr, "junction send: %s: %v\n", file, err)
			return 2
		}
		for i, f := range frames {
			label := file
			if len(frames) > 1 {
				label = fmt.Sprintf("%s [%d/%d]", file, i+1, len(frames))
			}
			ack, err := client.Send(context.Background(), f)
			if err != nil {
				fmt.Fprintf(stderr, "junction send: %s: %v\n", label, err)
				code = 1
				continue
			}
			codes := ackCodes(ack)
			fmt.Fprintf(stdout, "== %s: %s\n%s\n", label, strings.Join(codes, " "), strings.TrimRight(strings.ReplaceAll(string(ack), "\r", "\n"), "\n"))
			for _, c := range codes {
				if c != "AA" && c != "CA" {
					code = 1
				}
			}
		}
	}
	return code
}

// mllpFrames cuts a file into what to send: a batch (FHS or BHS) as one frame, otherwise
// each message as its own frame. Segments end with CR on the wire, whatever the file has.
func mllpFrames(data []byte) ([][]byte, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\r"))
	data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r"))
	b, err := hl7.SplitBatch(data)
	if err != nil {
		return nil, err
	}
	if b.Header.Segment != "" || b.File.Segment != "" {
		return [][]byte{append(bytes.TrimRight(data, "\r"), '\r')}, nil
	}
	return b.Messages, nil
}

// ackCodes are the MSA-1 codes of an answer (one for an ACK, one per ACK in a batch);
// "no MSA" when it holds none.
func ackCodes(ack []byte) []string {
	var codes []string
	for _, seg := range bytes.FieldsFunc(ack, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if len(seg) > 4 && bytes.HasPrefix(seg, []byte("MSA")) {
			f := bytes.Split(seg, seg[3:4])
			codes = append(codes, string(f[1]))
		}
	}
	if len(codes) == 0 {
		codes = []string{"no MSA"}
	}
	return codes
}
