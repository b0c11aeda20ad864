package fhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The KL Gateway IG's published examples (testdata/kl-examples/<version>, see its README)
// validated as the IG Publisher validated them: its QA report (qa.min.html of the release)
// gives the error count of every example, and the messages.

// exampleExpectation is what the IG Publisher reported for one example file.
type exampleExpectation struct {
	Errors  int    `json:"errors"`            // error count in the QA report
	Error   string `json:"error,omitempty"`   // text every one of those errors has
	Warning string `json:"warning,omitempty"` // a warning the report shows, which must be given too
	// Messages, for the regression set: a part of the text of each error, one per error.
	Messages []string `json:"messages,omitempty"`
}

// agreement counts, per suite, the cases where Junction gives what the reference gives.
type agreement struct {
	agree, total int
	known        []string // known disagreements met (reported, not failed)
}

func (a *agreement) String() string {
	return strings.TrimSpace(strings.Join([]string{itoaS(a.agree), "/", itoaS(a.total)}, " "))
}

func itoaS(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// loadExpectations reads dir/expected.json: file name → expectation.
func loadExpectations(t *testing.T, dir string) map[string]exampleExpectation {
	t.Helper()
	var m map[string]exampleExpectation
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "expected.json")), &m); err != nil {
		t.Fatalf("%s/expected.json: %v", dir, err)
	}
	return m
}

// firstLines keeps the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// indexContained finds the first part contained in text.
func indexContained(parts []string, text string) int {
	for i, p := range parts {
		if strings.Contains(text, p) {
			return i
		}
	}
	return -1
}

// checkExample compares one outcome with the reference's expectation and says how it differs.
func checkExample(oo *OperationOutcome, want exampleExpectation) string {
	errs := errorsOf(oo)
	var why []string
	if len(errs) != want.Errors {
		why = append(why, "errors: got "+itoaS(len(errs))+", the IG Publisher reports "+itoaS(want.Errors))
	}
	unmatched := append([]string(nil), want.Messages...)
	for _, e := range errs {
		if want.Error != "" && strings.Contains(e.Diagnostics, want.Error) {
			continue
		}
		if i := indexContained(unmatched, e.Diagnostics); i >= 0 {
			unmatched = append(unmatched[:i], unmatched[i+1:]...)
			continue
		}
		why = append(why, "unexpected error: "+e.Diagnostics+" @ "+strings.Join(e.Location, " | "))
	}
	for _, m := range unmatched {
		why = append(why, "missing error: "+m)
	}
	if want.Warning != "" && findIssue(oo, SeverityWarning, want.Warning) == nil {
		why = append(why, "missing warning: "+want.Warning)
	}
	return strings.Join(why, "\n")
}

func TestKLExamplesGiveTheIGPublishersErrors(t *testing.T) {
	for _, version := range []string{"1.0.4", "1.2.0"} {
		dir := filepath.Join("testdata", "kl-examples", version)
		if _, err := os.Stat(filepath.Join(dir, "expected.json")); err != nil {
			t.Logf("examples %s: none found (see testdata/kl-examples/README.md)", version)
			continue
		}
		v := validator104(t)
		if version == "1.2.0" {
			v = validator120(t)
		}
		// As the IG Publisher does, resolve() reaches the guide's other examples.
		opts := Options{Context: examplesContext(t, v, dir)}
		a := runExpectationsWith(t, v, dir, loadExpectations(t, dir), "examples "+version, opts)
		t.Logf("examples %s: %s agree (%d examples as context)", version, a, opts.Context.Len())
	}
}

// examplesContext reads every example of dir as the resources resolve() may reach.
func examplesContext(t *testing.T, v *Validator, dir string) *Resources {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	rs, _ := v.NewResources()
	for _, f := range files {
		if filepath.Base(f) != "expected.json" {
			if err := rs.Add(readFile(t, f)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	return rs
}

// runExpectations validates every file named in exp and checks it, reporting known
// disagreements with t.Log and anything else as a failure.
func runExpectations(t *testing.T, v *Validator, dir string, exp map[string]exampleExpectation, suite string) *agreement {
	t.Helper()
	return runExpectationsWith(t, v, dir, exp, suite, Options{})
}

// runExpectationsWith is runExpectations with validation options.
func runExpectationsWith(t *testing.T, v *Validator, dir string, exp map[string]exampleExpectation, suite string, opts Options) *agreement {
	t.Helper()
	names := make([]string, 0, len(exp))
	for n := range exp {
		names = append(names, n)
	}
	sort.Strings(names)
	a := &agreement{}
	for _, n := range names {
		a.total++
		oo, err := v.Validate(readFile(t, filepath.Join(dir, n)), opts)
		if err != nil {
			t.Fatal(err)
		}
		diff := checkExample(oo, exp[n])
		key := suite + "/" + n
		reason, known := knownDisagreements[key]
		switch {
		case diff == "":
			a.agree++
			if known {
				t.Logf("%s: agrees now; remove it from knownDisagreements (%s)", key, reason)
			}
		case known:
			a.known = append(a.known, key)
			t.Logf("known disagreement %s:\n%s\n  cause: %s", key, firstLines(diff, 2), reason)
		default:
			t.Errorf("%s:\n%s\nfull outcome:\n%s", key, diff, dump(oo))
		}
	}
	return a
}
