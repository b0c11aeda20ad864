package engine

import (
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/auth"
)

// References in routes.yaml values, expanded once when the file is loaded, before any
// value is read (so every key takes them, each keeps its line):
//
//	${NAME}            the environment variable NAME; an error when it is unset
//	${NAME:-default}   NAME, or default when NAME is unset or empty
//	${file:PATH}       a file's content, spaces and line ends trimmed (PATH relative to
//	                   routes.yaml's folder): for secrets
//	$${                a literal ${
//
// What a reference brings in is not expanded again. Keys are never expanded, and
// neither are scripts (the values under filter, transform, response and functions): a
// script's text is shown to operators (a filtered message names its filter), so a
// secret expanded into it would be shown too, and its content would become code.

// scriptKeys hold scripts, whose text is never expanded.
var scriptKeys = map[string]bool{"filter": true, "transform": true, "response": true, "functions": true}

// expandEnv expands the references in every scalar value under y, recording an error at
// the line of each value holding a bad one.
func expandEnv(file string, y *yaml.Node, errs *ConfigErrors) {
	expandNode(filepath.Dir(file), y, func(at *yaml.Node, err error) {
		*errs = append(*errs, ConfigError{File: file, Line: at.Line, Msg: err.Error()})
	})
}

func expandNode(dir string, y *yaml.Node, fail func(*yaml.Node, error)) {
	switch y.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range y.Content {
			expandNode(dir, c, fail)
		}
	case yaml.MappingNode:
		for i := 1; i < len(y.Content); i += 2 { // values only
			if scriptKeys[y.Content[i-1].Value] {
				continue
			}
			expandNode(dir, y.Content[i], fail)
		}
	case yaml.ScalarNode:
		if !strings.Contains(y.Value, "${") {
			return
		}
		v, err := expandRefs(y.Value, dir)
		if err != nil {
			fail(y, err)
			return
		}
		if v != y.Value {
			y.Value = v
			if y.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				y.Tag = "" // a plain value is typed by what it now says (true, 8000)
			}
		}
	}
	// An alias (*name) is its anchor's node, expanded where the anchor is.
}

// expandRefs expands the references in one value (auth.ExpandSecretsIn is the one
// expander: secrets and addresses take the same syntax).
func expandRefs(s, dir string) (string, error) { return auth.ExpandSecretsIn(s, dir) }
