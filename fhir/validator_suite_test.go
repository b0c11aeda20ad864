package fhir

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The HL7 validator's own test cases (FHIR/fhir-test-cases, folder validator/) as a measure of
// agreement: each case names a file, its FHIR version, what it needs loaded and the Java
// validator's expected error count. A small sample written here in the same shape always runs;
// a fetched copy of the upstream cases runs when FHIR_VALIDATOR_SUITE names its folder.

// suiteCase is one entry of a validator manifest.json (the fields this runner understands).
type suiteCase struct {
	Name       string        `json:"name"`
	File       string        `json:"file"`
	Version    string        `json:"version"`
	UseTest    *bool         `json:"use-test"`
	Packages   []string      `json:"packages"`
	Supporting []string      `json:"supporting"`
	Profiles   []string      `json:"profiles"`
	Java       *suiteExpect  `json:"java"`
	Profile    *suiteProfile `json:"profile"`
}

// suiteProfile is a case's second step: the same file validated against one more profile.
type suiteProfile struct {
	Source     string       `json:"source"`
	Supporting []string     `json:"supporting"`
	Java       *suiteExpect `json:"java"`
}

// suiteExpect is the Java validator's expectation: an error count, or an outcome whose
// error and fatal issues are counted.
type suiteExpect struct {
	ErrorCount *int `json:"errorCount"`
	Outcome    *struct {
		Issue []struct {
			Severity string `json:"severity"`
		} `json:"issue"`
	} `json:"outcome"`
}

// errors is the expected error count; ok is false when the expectation states none.
func (e *suiteExpect) errors() (n int, ok bool) {
	switch {
	case e == nil:
		return 0, false
	case e.ErrorCount != nil:
		return *e.ErrorCount, true
	case e.Outcome != nil:
		for _, i := range e.Outcome.Issue {
			if i.Severity == SeverityError || i.Severity == SeverityFatal {
				n++
			}
		}
		return n, true
	}
	return 0, false
}

// suiteResult is one validation compared with the Java validator's expectation.
type suiteResult struct {
	name      string
	want, got int
	issues    []Issue
	skipped   string // why the case was not run, if it was not
}

// suiteSkip says why a case cannot run here: another FHIR version, packages beyond core,
// or a format or step this runner does not take.
func suiteSkip(c suiteCase) string {
	switch {
	case c.UseTest != nil && !*c.UseTest:
		return "use-test false"
	case c.Version != "" && c.Version != "4.0" && c.Version != "4.0.1":
		return "FHIR version " + c.Version
	case len(c.Packages) > 0:
		return "needs packages " + strings.Join(c.Packages, ", ")
	case !strings.HasSuffix(c.File, ".json"):
		return "not JSON"
	}
	if _, ok := c.Java.errors(); !ok {
		return "no Java expectation"
	}
	return ""
}

// runSuite validates every runnable case of dir/manifest.json against core R4 plus the case's
// supporting files, and its profile step when the profile is one of the case's own files.
func runSuite(t *testing.T, dir string) []suiteResult {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Cases []suiteCase `json:"test-cases"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var out []suiteResult
	for _, c := range m.Cases {
		if why := suiteSkip(c); why != "" {
			out = append(out, suiteResult{name: c.Name, skipped: why})
			continue
		}
		out = append(out, runSuiteCase(t, dir, c)...)
	}
	return out
}

// runSuiteCase runs one case: its base validation and, when given, its profile step.
func runSuiteCase(t *testing.T, dir string, c suiteCase) []suiteResult {
	t.Helper()
	support := append(append([]string{}, c.Supporting...), c.Profiles...)
	var profURL string
	if c.Profile != nil {
		support = append(support, c.Profile.Supporting...)
		if strings.HasSuffix(c.Profile.Source, ".json") {
			support = append(support, c.Profile.Source)
			profURL = suiteCanonical(filepath.Join(dir, c.Profile.Source))
		}
	}
	v, ctx, err := suiteValidator(dir, support)
	if err != nil {
		return []suiteResult{{name: c.Name, skipped: err.Error()}}
	}
	data, err := os.ReadFile(filepath.Join(dir, c.File))
	if err != nil {
		return []suiteResult{{name: c.Name, skipped: err.Error()}}
	}
	want, _ := c.Java.errors()
	out := []suiteResult{suiteRun(t, v, c.Name, data, want, Options{Context: ctx})}
	if c.Profile == nil {
		return out
	}
	name := c.Name + " (profile " + c.Profile.Source + ")"
	pwant, ok := c.Profile.Java.errors()
	switch {
	case !ok:
		out = append(out, suiteResult{name: name, skipped: "no Java expectation"})
	case profURL == "":
		out = append(out, suiteResult{name: name, skipped: "profile is not a local JSON file"})
	default:
		out = append(out, suiteRun(t, v, name, suiteClaim(data, profURL), pwant, Options{Context: ctx}))
	}
	return out
}

// suiteRun validates one document and records its error count.
func suiteRun(t *testing.T, v *Validator, name string, data []byte, want int, opts Options) suiteResult {
	t.Helper()
	oo, err := v.Validate(data, opts)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return suiteResult{name: name, want: want, got: -1}
	}
	r := suiteResult{name: name, want: want, issues: oo.Issue}
	for _, i := range oo.Issue {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			r.got++
		}
	}
	return r
}

// suiteValidator builds a validator over core plus the conformance resources among files;
// the other files become resources that resolve() may reach.
func suiteValidator(dir string, files []string) (*Validator, *Resources, error) {
	var pkgs []*Package
	var docs [][]byte
	for _, f := range files {
		path := filepath.Join(dir, f)
		if !strings.HasSuffix(f, ".json") {
			return nil, nil, fmt.Errorf("supporting file %s is not JSON", f)
		}
		if p, err := LoadPackage(path); err == nil {
			pkgs = append(pkgs, p)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, b)
	}
	v, err := NewValidator(pkgs...)
	if err != nil {
		return nil, nil, err
	}
	ctx, err := v.NewResources(docs...)
	return v, ctx, err
}

// suiteCanonical reads a StructureDefinition's url.
func suiteCanonical(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var sd struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(b, &sd)
	return sd.URL
}

// suiteClaim adds url to the resource's meta.profile, which is how a profile is asked for here
// (the Java runner passes it beside the resource instead).
func suiteClaim(data []byte, url string) []byte {
	var res map[string]any
	if json.Unmarshal(data, &res) != nil {
		return data
	}
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	profiles, _ := meta["profile"].([]any)
	meta["profile"] = append(profiles, url)
	res["meta"] = meta
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return data
	}
	return b
}

// suiteReport writes the summary line and every disagreement with Junction's messages, and
// returns how many cases ran and agreed.
func suiteReport(w io.Writer, results []suiteResult) (agree, total int) {
	var skipped []string
	for _, r := range results {
		if r.skipped != "" {
			skipped = append(skipped, r.name+": "+r.skipped)
			continue
		}
		total++
		if r.want == r.got {
			agree++
			continue
		}
		fmt.Fprintf(w, "DIFFERS %s: expected %d errors, got %d\n", r.name, r.want, r.got)
		for _, i := range r.issues {
			fmt.Fprintf(w, "    %s %s @ %s\n", i.Severity, i.Diagnostics, strings.Join(i.Expression, ","))
		}
	}
	fmt.Fprintf(w, "agree %d / total %d (skipped %d)\n", agree, total, len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(w, "    skipped %s\n", s)
	}
	return agree, total
}

func TestTheCommittedValidatorSampleAgreesWithTheJavaValidator(t *testing.T) {
	var b strings.Builder
	agree, total := suiteReport(&b, runSuite(t, filepath.Join("testdata", "validator")))
	t.Log("\n" + b.String())
	if total == 0 || agree != total {
		t.Errorf("sample cases disagree with the Java validator:\n%s", b.String())
	}
}

func TestTheHL7ValidatorTestCasesAreMeasuredWhenFetched(t *testing.T) {
	dir := os.Getenv("FHIR_VALIDATOR_SUITE")
	if dir == "" {
		t.Skip("set FHIR_VALIDATOR_SUITE to a folder holding a fhir-test-cases validator manifest.json")
	}
	suiteReport(os.Stdout, runSuite(t, dir))
}
