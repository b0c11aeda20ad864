package engine_test

import (
	"errors"
	"strings"
	"testing"

	"junction/engine"
)

// yamlErr loads text and returns its one error, failing unless there is exactly one.
func yamlErr(t *testing.T, text string) engine.ConfigError {
	t.Helper()
	_, err := engine.LoadBytes("routes.yaml", []byte(text))
	var errs engine.ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one ConfigError, got %v", err)
	}
	return errs[0]
}

// Classic indentation mistakes, each in goodConfig (lines as there): the error names the
// line that is wrong, where yaml.v3 names another (often line 1).
func TestYAMLIndentationMistakesAreReportedAtTheWrongLine(t *testing.T) {
	cases := []struct {
		name, old, new string
		line           int
		hint           string
	}{
		{"a key indented one space too far", "      listen: :8000", "       listen: :8000", 9, "1 more than line 8"},
		{"a key indented one space too little", "      listen: :8000", "     listen: :8000", 9, "between its block's 6 (line 8) and the enclosing block's 4"},
		{"a tab in the indentation", "      domain: emergency-care", "\tdomain: emergency-care", 10, "tab"},
		{"a tab after spaces", "      domain: emergency-care", "    \t  domain: emergency-care", 10, "tab"},
		{"a list item one space out", "      - name: downstream", "     - name: downstream", 20, "indented 5 spaces"},
		{"a list item among a mapping's keys", "      - name: downstream", "        - name: downstream", 20, "list item among the keys of the mapping at line 17"},
		{"a filter step left of its key", "      - 'get(\"MSH-9.1\")", "   - 'get(\"MSH-9.1\")", 13, "indented 3 spaces"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(goodConfig, c.old) {
				t.Fatalf("goodConfig lacks %q", c.old)
			}
			e := yamlErr(t, strings.Replace(goodConfig, c.old, c.new, 1))
			if e.Line != c.line || !strings.Contains(e.Msg, "wrong indentation") || !strings.Contains(e.Msg, c.hint) {
				t.Errorf("got %s\nwant line %d with %q", e.Error(), c.line, c.hint)
			}
		})
	}
}

func TestYAMLSyntaxErrorsThatAreNotIndentationKeepYAMLsLine(t *testing.T) {
	e := yamlErr(t, strings.Replace(goodConfig, "url: http://127.0.0.1:9999/in", `url: "http://127.0.0.1:9999/in`, 1))
	if !strings.HasPrefix(e.Msg, "YAML syntax") {
		t.Errorf("got %s", e.Error())
	}
}

func TestFlowMappingsAndBlockScalarsAreNotTakenForIndentationMistakes(t *testing.T) {
	text := strings.Replace(goodConfig, "    transform:\n", "    description: |\n        free text\n\n          # not a comment\n    transform:\n", 1)
	text = strings.Replace(text, "retry: { attempts: 10, backoff: 1s }", "retry: { attempts: 10,\n    backoff: 1s }", 1)
	if _, err := engine.LoadBytes("routes.yaml", []byte(text)); err != nil {
		t.Fatalf("valid YAML refused: %v", err)
	}
	bad := strings.Replace(text, "        dir: out/ed-adt", "         dir: out/ed-adt", 1)
	if e := yamlErr(t, bad); !strings.Contains(e.Msg, "wrong indentation") {
		t.Errorf("got %s", e.Error())
	}
}

func TestQuotedTextOverSeveralLinesIsNotTakenForKeys(t *testing.T) {
	text := strings.Replace(goodConfig, "    transform:\n", "    description: 'it''s text\n  going on: over lines\n            at: any indentation'\n    transform:\n", 1)
	if _, err := engine.LoadBytes("routes.yaml", []byte(text)); err != nil {
		t.Fatalf("valid YAML refused: %v", err)
	}
	bad := strings.Replace(text, "        dir: out/ed-adt", "         dir: out/ed-adt", 1)
	if e := yamlErr(t, bad); e.Line != 22 || !strings.Contains(e.Msg, "wrong indentation") {
		t.Errorf("got %s, want line 22", e.Error())
	}
}
