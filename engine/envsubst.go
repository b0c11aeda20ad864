package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

var envRefName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

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

// expandRefs expands the references in one value.
func expandRefs(s, dir string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${: expected ${NAME}, ${NAME:-default} or ${file:PATH} (write $${ for a literal ${)")
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		v, err := resolveRef(ref, dir)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
}

func resolveRef(ref, dir string) (string, error) {
	if strings.HasPrefix(ref, "file:") {
		return auth.ExpandSecretsIn("${"+ref+"}", dir)
	}
	name, def, hasDef := strings.Cut(ref, ":-")
	if !envRefName.MatchString(name) {
		return "", fmt.Errorf("${%s}: expected ${NAME}, ${NAME:-default} or ${file:PATH} (NAME: letters, digits, _; write $${ for a literal ${)", ref)
	}
	v, set := os.LookupEnv(name)
	switch {
	case hasDef && v == "":
		return def, nil
	case !set:
		return "", fmt.Errorf("${%s}: environment variable %s is not set (give a default: ${%s:-value})", name, name, name)
	}
	return v, nil
}
