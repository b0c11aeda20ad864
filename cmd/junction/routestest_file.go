package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/hl7"
	"junction/transforms"
)

// A channel test file (`junction test`), read through yaml.Node so that every mistake,
// an unknown key first of all, is reported with FILE:LINE:
//
//	channel: ed-adt
//	cases:
//	  - name: upper-cases the family name
//	    input: { file: samples/adt_a01.hl7 }   # or { text: "…" }, or the text itself
//	    headers: { source-domain: emergency-care, data-type: Hl7v2 }
//	    expect: { filtered: false, hl7: { PID-5.1: FERNÁNDEZ }, ack: AA }
//
// expect takes filtered, error, ack, destinations, contains, hl7, fhir, warnings and
// columns (the channel's custom metadata column values: { mrn: "123" }).

var (
	fileKeys   = []string{"channel", "description", "cases"}
	caseKeys   = []string{"name", "input", "headers", "expect"}
	inputKeys  = []string{"file", "text"}
	expectKeys = []string{"filtered", "error", "ack", "destinations", "contains", "hl7", "fhir", "warnings", "columns"}
)

// testFile is one test file: the cases of one channel.
type testFile struct {
	path    string
	channel *engine.Channel
	check   func(body []byte) error // the channel's source's own check (Channel.SourceCheck; nil: none)
	cases   []*testCase
}

// testCase is one message and what the channel must make of it.
type testCase struct {
	name    string
	line    int
	in      engine.Inbound
	checks  []expectation
	errWant bool // an error: expectation is given (else an ERROR result fails the case)
}

// expectation is one expected fact: fn says what is wrong with a result ("" when it is met).
type expectation struct {
	line int
	fn   func(*caseRun) string
}

// decoder reads one test file, collecting its mistakes.
type decoder struct {
	file string
	errs []string
}

func (d *decoder) errorf(y *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Sprintf("%s:%d: %s", d.file, y.Line, fmt.Sprintf(format, args...)))
}

// entry is one key of a mapping with its value.
type entry struct{ key, val *yaml.Node }

// mapping returns the keys of a mapping in order, reporting any not in allowed.
func (d *decoder) mapping(y *yaml.Node, what string, allowed []string) map[string]entry {
	if y.Kind != yaml.MappingNode {
		d.errorf(y, "%s: expected a mapping (key: value lines)", what)
		return nil
	}
	m := map[string]entry{}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			d.errorf(k, "%s: unknown key %q (expected one of: %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := m[k.Value]; dup {
			d.errorf(k, "%s: key %q is given twice", what, k.Value)
		}
		m[k.Value] = entry{k, v}
	}
	return m
}

// pairs returns the entries of a mapping of scalars in order (hl7:, fhir:, headers:).
func (d *decoder) pairs(y *yaml.Node, what string) []entry {
	if y.Kind != yaml.MappingNode {
		d.errorf(y, "%s: expected a mapping (key: value lines)", what)
		return nil
	}
	var out []entry
	for i := 0; i+1 < len(y.Content); i += 2 {
		out = append(out, entry{y.Content[i], y.Content[i+1]})
	}
	return out
}

func (d *decoder) scalar(y *yaml.Node, what string) (string, bool) {
	if y.Kind != yaml.ScalarNode {
		d.errorf(y, "%s: expected a text value", what)
		return "", false
	}
	return y.Value, true
}

func (d *decoder) strings(y *yaml.Node, what string) ([]string, bool) {
	if y.Kind != yaml.SequenceNode {
		d.errorf(y, "%s: expected a list", what)
		return nil, false
	}
	out := []string{}
	for _, it := range y.Content {
		s, ok := d.scalar(it, what)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// readTestFile reads and checks a test file against the loaded configuration.
func readTestFile(path string, eng *engine.Engine) (*testFile, []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	d := &decoder{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil, []string{fmt.Sprintf("%s:1: the file is empty: expected channel and cases", path)}
	}
	root := doc.Content[0]
	top := d.mapping(root, "test file", fileKeys)
	tf := &testFile{path: path}
	if e, ok := top["channel"]; !ok {
		d.errorf(root, "missing required key \"channel\"")
	} else if name, ok := d.scalar(e.val, "channel"); ok {
		for _, ch := range eng.Channels() {
			if ch.Name == name {
				tf.channel = ch
			}
		}
		if tf.channel == nil {
			d.errorf(e.val, "channel %q is not in %s", name, eng.File)
		} else {
			tf.check = tf.channel.SourceCheck
		}
	}
	e, ok := top["cases"]
	switch {
	case !ok:
		d.errorf(root, "missing required key \"cases\"")
	case e.val.Kind != yaml.SequenceNode || len(e.val.Content) == 0:
		d.errorf(e.val, "cases: expected a list of at least one case")
	default:
		for _, item := range e.val.Content {
			if tc := d.testCase(item, tf.channel); tc != nil {
				tf.cases = append(tf.cases, tc)
			}
		}
	}
	return tf, d.errs
}

func (d *decoder) testCase(y *yaml.Node, ch *engine.Channel) *testCase {
	m := d.mapping(y, "case", caseKeys)
	if m == nil {
		return nil
	}
	tc := &testCase{line: y.Line, in: engine.Inbound{Meta: map[string]string{}}}
	if e, ok := m["name"]; ok {
		tc.name, _ = d.scalar(e.val, "name")
	} else {
		d.errorf(y, "case: missing required key \"name\"")
	}
	if e, ok := m["headers"]; ok {
		for _, p := range d.pairs(e.val, "headers") {
			if v, ok := d.scalar(p.val, "headers."+p.key.Value); ok {
				tc.in.Meta[strings.ToLower(p.key.Value)] = v
			}
		}
	}
	tc.in.SourceDomain, tc.in.OrgCode = tc.in.Meta["source-domain"], tc.in.Meta["organisation-code"]
	if e, ok := m["input"]; ok {
		tc.in.Body = d.input(e.val)
	} else {
		d.errorf(y, "case: missing required key \"input\"")
	}
	if ch != nil && tc.in.Body != nil {
		tc.in.DataType = d.dataType(m["headers"].val, y, ch, tc.in.Meta["data-type"], tc.in.Body)
		if tc.in.DataType == transforms.HL7v2 && (ch.SourceType == "mllp" || ch.SourceType == "file") {
			// As these sources do: the channel gets the text decoded by its MSH-18.
			text, cs, _ := hl7.DecodeCharset(tc.in.Body)
			tc.in.Body, tc.in.Wire, tc.in.Meta["charset"] = text, tc.in.Body, cs.String()
		}
	}
	if e, ok := m["expect"]; ok {
		d.expect(e.val, tc)
	} else {
		d.errorf(y, "case: missing required key \"expect\"")
	}
	return tc
}

// input is the message of a case: the text given, or a file's content (its path relative
// to the test file).
func (d *decoder) input(y *yaml.Node) []byte {
	if y.Kind == yaml.ScalarNode {
		return []byte(y.Value)
	}
	m := d.mapping(y, "input", inputKeys)
	f, hasFile := m["file"]
	t, hasText := m["text"]
	switch {
	case m == nil:
		return nil
	case hasFile == hasText:
		d.errorf(y, "input: expected exactly one of file and text")
	case hasText:
		if s, ok := d.scalar(t.val, "input.text"); ok {
			return []byte(s)
		}
	default:
		name, ok := d.scalar(f.val, "input.file")
		if !ok {
			return nil
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(d.file), name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			d.errorf(f.val, "input.file: %v", err)
			return nil
		}
		return data
	}
	return nil
}

// dataType is the case's data type: its data-type header, else the channel's only one,
// else what the content looks like.
func (d *decoder) dataType(headers, y *yaml.Node, ch *engine.Channel, given string, body []byte) string {
	if given != "" {
		if !slices.Contains(ch.DataTypes, given) {
			d.errorf(headers, "headers.data-type: channel %s does not take %q (it takes %s)", ch.Name, given, strings.Join(ch.DataTypes, ", "))
		}
		return given
	}
	if len(ch.DataTypes) == 1 {
		return ch.DataTypes[0]
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(body), "\ufeff"))
	guess := transforms.CSV
	switch {
	case strings.HasPrefix(s, "{"):
		guess = transforms.FHIR
	case strings.HasPrefix(s, "MSH"), strings.HasPrefix(s, "BHS"), strings.HasPrefix(s, "FHS"):
		guess = transforms.HL7v2
	}
	if !slices.Contains(ch.DataTypes, guess) {
		d.errorf(y, "case: give headers.data-type: channel %s takes %s", ch.Name, strings.Join(ch.DataTypes, ", "))
	}
	return guess
}

// expect turns the expect block into checks, in the order written.
func (d *decoder) expect(y *yaml.Node, tc *testCase) {
	if y.Kind != yaml.MappingNode {
		d.errorf(y, "expect: expected a mapping (key: value lines)")
		return
	}
	d.mapping(y, "expect", expectKeys) // reports unknown and repeated keys
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		var fn func(*caseRun) string
		switch k.Value {
		case "filtered":
			var want bool
			if v.Kind != yaml.ScalarNode || v.Decode(&want) != nil {
				d.errorf(v, "expect.filtered: expected true or false")
				continue
			}
			fn = expectFiltered(want)
		case "error":
			if s, ok := d.scalar(v, "expect.error"); ok {
				tc.errWant, fn = true, expectError(s)
			}
		case "ack":
			if s, ok := d.scalar(v, "expect.ack"); ok {
				if !slices.Contains([]string{"AA", "AE", "AR"}, s) {
					d.errorf(v, "expect.ack: expected AA, AE or AR, got %q", s)
				}
				fn = expectACK(s)
			}
		case "destinations":
			if l, ok := d.strings(v, "expect.destinations"); ok {
				fn = expectDestinations(l)
			}
		case "contains":
			if l, ok := d.strings(v, "expect.contains"); ok {
				fn = expectContains(l)
			}
		case "warnings":
			if l, ok := d.strings(v, "expect.warnings"); ok {
				fn = expectWarnings(l)
			}
		case "hl7":
			for _, p := range d.pairs(v, "expect.hl7") {
				if want, ok := d.scalar(p.val, "expect.hl7."+p.key.Value); ok {
					tc.checks = append(tc.checks, expectation{p.key.Line, expectHL7(p.key.Value, want)})
				}
			}
		case "columns":
			for _, p := range d.pairs(v, "expect.columns") {
				if want, ok := d.scalar(p.val, "expect.columns."+p.key.Value); ok {
					tc.checks = append(tc.checks, expectation{p.key.Line, expectColumn(p.key.Value, want)}) // routestest_columns.go
				}
			}
		case "fhir":
			for _, p := range d.pairs(v, "expect.fhir") {
				tc.checks = append(tc.checks, expectation{p.key.Line, expectFHIR(p.key.Value, p.val)})
			}
		}
		if fn != nil {
			tc.checks = append(tc.checks, expectation{k.Line, fn})
		}
	}
}
