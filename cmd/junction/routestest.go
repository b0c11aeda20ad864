package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/fhir"
)

// routesTest is `junction test`: it runs channel test cases (testFile) through
// Channel.DryRun, which stores, binds and sends nothing. Exit 1 when a case fails, 2 when
// the configuration or a test file has a mistake.
func routesTest(args []string) int {
	return runRouteTests(args, os.Stdout, os.Stderr)
}

func runRouteTests(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("test", flag.ContinueOnError)
	flags.SetOutput(stderr)
	config := flags.String("config", "routes.yaml", "configuration file")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: junction test [-config routes.yaml] [FILE|DIR]...  (default: the tests folder beside the configuration; DIRs are searched for *_test.yaml)")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	eng, err := engine.Load(*config)
	if err != nil {
		var errs engine.ConfigErrors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *config, err)
		}
		return 2
	}
	paths := flags.Args()
	if len(paths) == 0 {
		paths = []string{filepath.Join(filepath.Dir(*config), "tests")}
	}
	files, err := testFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "junction test: %v\n", err)
		return 2
	}
	var tfs []*testFile
	var problems []string
	for _, f := range files {
		tf, errs := readTestFile(f, eng)
		problems = append(problems, errs...)
		tfs = append(tfs, tf)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return 2
	}
	return runTestFiles(tfs, stdout)
}

// testFiles expands the paths given: files as they are, folders searched (recursively)
// for *_test.yaml, in name order.
func testFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() && strings.HasSuffix(de.Name(), "_test.yaml") {
				found = append(found, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *_test.yaml files", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// caseRun is one case's result, with what its checks need to read it.
type caseRun struct {
	res engine.DryResult
	fp  *fhirpathEval
}

// runTestFiles runs every case and prints a line for each (one per failed expectation)
// and a summary.
func runTestFiles(tfs []*testFile, out io.Writer) int {
	fp := &fhirpathEval{}
	total, failed := 0, 0
	for _, tf := range tfs {
		ch := tf.channel
		for _, tc := range tf.cases {
			total++
			in := tc.in
			run := &caseRun{res: dryRun(tf, &in), fp: fp}
			var fails []string
			if !tc.errWant && run.res.Status == engine.StatusError {
				fails = append(fails, fmt.Sprintf("%s:%d: %s: %s: unexpected error: %v", tf.path, tc.line, ch.Name, tc.name, run.res.Err))
			}
			for _, c := range tc.checks {
				if msg := c.fn(run); msg != "" {
					fails = append(fails, fmt.Sprintf("%s:%d: %s: %s: %s", tf.path, c.line, ch.Name, tc.name, msg))
				}
			}
			if len(fails) == 0 {
				fmt.Fprintf(out, "ok  %s: %s\n", ch.Name, tc.name)
				continue
			}
			failed++
			for _, f := range fails {
				fmt.Fprintf(out, "FAIL %s\n", f)
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(out, "FAIL: %d of %d cases failed (%d files)\n", failed, total, len(tfs))
		return 1
	}
	fmt.Fprintf(out, "ok: %d cases passed (%d files)\n", total, len(tfs))
	return 0
}

// dryRun is what the case's channel makes of its message, after its source's own check
// (a fhir-bundle source's validation, of content that parses) when it has one.
func dryRun(tf *testFile, in *engine.Inbound) engine.DryResult {
	res := tf.channel.DryRun(in)
	if tf.check == nil || res.Msg == nil {
		return res
	}
	if err := tf.check(in.Body); err != nil {
		r := engine.Result{Status: engine.StatusError, Err: err}
		return engine.DryResult{Status: r.Status, Err: err, ACK: tf.channel.ACKCode(r)}
	}
	return res
}

func expectFiltered(want bool) func(*caseRun) string {
	return func(r *caseRun) string {
		got := r.res.Status == engine.StatusFiltered
		if got == want {
			return ""
		}
		if r.res.Err != nil {
			return fmt.Sprintf("filtered: expected %t, got %t (%s: %v)", want, got, r.res.Status, r.res.Err)
		}
		return fmt.Sprintf("filtered: expected %t, got %t", want, got)
	}
}

func expectError(want string) func(*caseRun) string {
	return func(r *caseRun) string {
		switch {
		case r.res.Status != engine.StatusError:
			return fmt.Sprintf("error: expected an error containing %q, got none (%s)", want, r.res.Status)
		case !strings.Contains(r.res.Err.Error(), want):
			return fmt.Sprintf("error: expected an error containing %q, got %q", want, r.res.Err.Error())
		}
		return ""
	}
}

func expectACK(want string) func(*caseRun) string {
	return func(r *caseRun) string {
		if r.res.ACK == want {
			return ""
		}
		if r.res.Err != nil {
			return fmt.Sprintf("ack: expected %s, got %s (%s: %v)", want, r.res.ACK, r.res.Status, r.res.Err)
		}
		return fmt.Sprintf("ack: expected %s, got %s", want, r.res.ACK)
	}
}

func expectDestinations(want []string) func(*caseRun) string {
	return func(r *caseRun) string {
		got := slices.Clone(r.res.Destinations)
		if got == nil {
			got = []string{}
		}
		w := slices.Clone(want)
		slices.Sort(got)
		slices.Sort(w)
		if slices.Equal(got, w) {
			return ""
		}
		msg := fmt.Sprintf("destinations: expected %s, got %s", quoteList(want), quoteList(r.res.Destinations))
		for _, sk := range r.res.Skipped { // why a destination did not get it
			msg += fmt.Sprintf("; %s %s: %s", sk.Name, sk.Status, sk.Reason)
		}
		return msg
	}
}

func expectContains(want []string) func(*caseRun) string {
	return func(r *caseRun) string {
		if r.res.Status != engine.StatusTransformed {
			return fmt.Sprintf("contains: expected a transformed body, got none (%s)", r.res.Status)
		}
		for _, s := range want {
			if !bytes.Contains(r.res.Body, []byte(s)) {
				return fmt.Sprintf("contains: expected the body to contain %q, got %s", s, snippet(r.res.Body))
			}
		}
		return ""
	}
}

func expectWarnings(want []string) func(*caseRun) string {
	return func(r *caseRun) string {
		got := make([]string, len(r.res.Warnings))
		for i, w := range r.res.Warnings {
			got[i] = w.Text
		}
		if len(want) == 0 && len(got) > 0 {
			return fmt.Sprintf("warnings: expected none, got %s", quoteList(got))
		}
		for _, s := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, s) }) {
				return fmt.Sprintf("warnings: expected one containing %q, got %s", s, quoteList(got))
			}
		}
		return ""
	}
}

// expectHL7 checks an HL7v2 path of the transformed message (its parsed HL7v2, which
// setBody() does not replace).
func expectHL7(path, want string) func(*caseRun) string {
	return func(r *caseRun) string {
		if r.res.Msg == nil || r.res.Msg.HL7 == nil {
			return fmt.Sprintf("hl7 %s: expected %q, got no HL7v2 message (%s)", path, want, r.res.Status)
		}
		got, err := r.res.Msg.HL7.Get(path)
		if err != nil {
			return fmt.Sprintf("hl7 %s: %v", path, err)
		}
		if got != want {
			return fmt.Sprintf("hl7 %s: expected %q, got %q", path, want, got)
		}
		return ""
	}
}

// expectFHIR checks a FHIRPath expression on the body the destinations would get. A
// scalar expects one item whose value (a string unquoted) it equals, a list as many
// items in order, ~ or [] none; mappings compare as JSON.
func expectFHIR(expr string, want *yaml.Node) func(*caseRun) string {
	wants := []*yaml.Node{want}
	switch {
	case want.Kind == yaml.SequenceNode:
		wants = want.Content
	case want.Tag == "!!null":
		wants = nil
	}
	return func(r *caseRun) string {
		if r.res.Status != engine.StatusTransformed {
			return fmt.Sprintf("fhir %s: expected %s, got no transformed body (%s)", expr, describeWant(wants), r.res.Status)
		}
		got, err := r.fp.eval(r.res.Body, expr)
		if err != nil {
			return fmt.Sprintf("fhir %s: %v", expr, err)
		}
		ok := len(got) == len(wants)
		for i := 0; ok && i < len(got); i++ {
			ok = fhirItemEqual(got[i], wants[i])
		}
		if ok {
			return ""
		}
		items := make([]string, len(got))
		for i, g := range got {
			items[i] = itemText(g)
		}
		return fmt.Sprintf("fhir %s: expected %s, got %s", expr, describeWant(wants), describeItems(items))
	}
}

// fhirpathEval evaluates FHIRPath with one validator (FHIR R4), built at first use.
type fhirpathEval struct {
	v   *fhir.Validator
	err error
}

func (e *fhirpathEval) eval(body []byte, expr string) ([]fhir.FHIRPathResult, error) {
	if e.v == nil && e.err == nil {
		e.v, e.err = fhir.NewValidator()
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.v.EvaluateFHIRPath(body, expr)
}

// itemText is an item's value as a test writes it: a string unquoted, else its JSON.
func itemText(it fhir.FHIRPathResult) string {
	var s string
	if json.Unmarshal(it.Value, &s) == nil {
		return s
	}
	return string(it.Value)
}

func fhirItemEqual(got fhir.FHIRPathResult, want *yaml.Node) bool {
	if want.Kind == yaml.ScalarNode {
		return itemText(got) == want.Value
	}
	var w, g any
	if want.Decode(&w) != nil || json.Unmarshal(got.Value, &g) != nil {
		return false
	}
	wj, err := json.Marshal(w)
	if err != nil || json.Unmarshal(wj, &w) != nil {
		return false
	}
	return reflect.DeepEqual(w, g)
}

func describeWant(wants []*yaml.Node) string {
	items := make([]string, len(wants))
	for i, w := range wants {
		if w.Kind == yaml.ScalarNode {
			items[i] = w.Value
			continue
		}
		var v any
		w.Decode(&v)
		j, _ := json.Marshal(v)
		items[i] = string(j)
	}
	return describeItems(items)
}

// describeItems writes one item as a quoted string, several (or none) as a list.
func describeItems(items []string) string {
	if len(items) == 1 {
		return strconv.Quote(items[0])
	}
	return quoteList(items)
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// snippet is the start of a body, for a failure line.
func snippet(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r", `\r`)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return strconv.Quote(s)
}
