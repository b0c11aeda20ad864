package engine

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ConfigErrors collects every problem found in a configuration, each with FILE:LINE.
type ConfigErrors []ConfigError

// ConfigError is one problem at one line of the configuration file.
type ConfigError struct {
	File string
	Line int
	Path string // e.g. channels[0].source.listen
	Msg  string
}

func (e ConfigError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Node is a YAML mapping being decoded: typed getters record errors instead of returning
// them, so one pass reports every mistake in the file, each at its own line.
type Node struct {
	File string
	Path string
	Y    *yaml.Node
	errs *ConfigErrors
	used map[string]bool
	spec *nodeSpec // nil: any key may be read (see WithSpec)
}

func newNode(file, path string, y *yaml.Node, errs *ConfigErrors) *Node {
	return &Node{File: file, Path: path, Y: y, errs: errs, used: map[string]bool{}}
}

// Line is the line of the node itself.
func (n *Node) Line() int { return n.Y.Line }

// Errorf records a problem at the node's own line.
func (n *Node) Errorf(format string, args ...any) {
	n.ErrorAt(n.Y, n.Path, format, args...)
}

// ErrorAt records a problem at the line of y.
func (n *Node) ErrorAt(y *yaml.Node, path, format string, args ...any) {
	*n.errs = append(*n.errs, ConfigError{File: n.File, Line: y.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (n *Node) child(key string) (*yaml.Node, string) {
	if n.spec != nil && !n.spec.knows(key) {
		n.spec.notInSpec(key, n.Path)
	}
	n.used[key] = true
	if n.Y.Kind != yaml.MappingNode {
		return nil, ""
	}
	for i := 0; i+1 < len(n.Y.Content); i += 2 {
		if n.Y.Content[i].Value == key {
			return deref(n.Y.Content[i+1]), n.Path + "." + key
		}
	}
	return nil, ""
}

// deref follows a YAML alias (*name) to its anchored node.
func deref(y *yaml.Node) *yaml.Node {
	for y != nil && y.Kind == yaml.AliasNode && y.Alias != nil {
		y = y.Alias
	}
	return y
}

// Has reports whether key is present.
func (n *Node) Has(key string) bool {
	y, _ := n.child(key)
	return y != nil
}

// Raw returns the YAML node of key, or nil.
func (n *Node) Raw(key string) *yaml.Node {
	y, _ := n.child(key)
	return y
}

// Map returns the mapping under key as a Node, or nil when absent (recording an error when
// required or when it is not a mapping).
func (n *Node) Map(key string, required bool) *Node {
	y, path := n.child(key)
	if y == nil {
		if required {
			n.Errorf("missing required key %q", key)
		}
		return nil
	}
	if y.Kind != yaml.MappingNode {
		n.ErrorAt(y, path, "expected a mapping (key: value lines), got %s", describe(y))
		return nil
	}
	m := newNode(n.File, path, y, n.errs)
	if n.spec != nil {
		m.spec = n.spec.below(key)
	}
	return m
}

// List returns the items of the sequence under key.
func (n *Node) List(key string, required bool) ([]*yaml.Node, string) {
	y, path := n.child(key)
	if y == nil {
		if required {
			n.Errorf("missing required key %q", key)
		}
		return nil, path
	}
	if y.Kind != yaml.SequenceNode {
		n.ErrorAt(y, path, "expected a list, got %s", describe(y))
		return nil, path
	}
	return y.Content, path
}

// Sub wraps an item of a list as a Node (it must be a mapping).
func (n *Node) Sub(y *yaml.Node, path string) *Node {
	y = deref(y)
	if y.Kind != yaml.MappingNode {
		n.ErrorAt(y, path, "expected a mapping (key: value lines), got %s", describe(y))
		return nil
	}
	return newNode(n.File, path, y, n.errs)
}

// String returns the scalar under key, def when absent.
func (n *Node) String(key string, required bool, def string) string {
	y, path := n.child(key)
	if y == nil {
		if required {
			n.Errorf("missing required key %q", key)
		}
		return def
	}
	if y.Kind != yaml.ScalarNode {
		n.ErrorAt(y, path, "expected a text value, got %s", describe(y))
		return def
	}
	if required && strings.TrimSpace(y.Value) == "" {
		n.ErrorAt(y, path, "must not be empty")
	}
	return y.Value
}

// Strings returns a list of scalars (a single scalar is taken as a list of one).
func (n *Node) Strings(key string, required bool) []string {
	y, path := n.child(key)
	if y == nil {
		if required {
			n.Errorf("missing required key %q", key)
		}
		return nil
	}
	if y.Kind == yaml.ScalarNode {
		return []string{y.Value}
	}
	if y.Kind != yaml.SequenceNode {
		n.ErrorAt(y, path, "expected a list of text values, got %s", describe(y))
		return nil
	}
	out := make([]string, 0, len(y.Content))
	for i, c := range y.Content {
		if c.Kind != yaml.ScalarNode {
			n.ErrorAt(c, fmt.Sprintf("%s[%d]", path, i), "expected a text value, got %s", describe(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// StringMap returns a mapping of text to text.
func (n *Node) StringMap(key string) map[string]string {
	m := n.Map(key, false)
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(m.Y.Content); i += 2 {
		k, v := m.Y.Content[i], m.Y.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			n.ErrorAt(v, m.Path+"."+k.Value, "expected a text value, got %s", describe(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

// Secret returns a text value that may hold a secret. Its ${ENV_VAR} and ${file:PATH}
// references (paths relative to the configuration's folder) were expanded with every
// other value's when the file was loaded (expandEnv), so secrets need not sit in
// routes.yaml in clear; they are not expanded again here.
func (n *Node) Secret(key string, required bool, def string) string {
	return n.String(key, required, def)
}

// SecretMap is StringMap for values that may hold secrets (see Secret).
func (n *Node) SecretMap(key string) map[string]string {
	return n.StringMap(key)
}

// Int returns an integer under key.
func (n *Node) Int(key string, def int, min int) int {
	y, path := n.child(key)
	if y == nil {
		return def
	}
	v, err := strconv.Atoi(y.Value)
	if y.Kind != yaml.ScalarNode || err != nil {
		n.ErrorAt(y, path, "expected a whole number, got %s", describe(y))
		return def
	}
	if v < min {
		n.ErrorAt(y, path, "must be at least %d, got %d", min, v)
		return def
	}
	return v
}

// Bool returns a boolean under key.
func (n *Node) Bool(key string, def bool) bool {
	y, path := n.child(key)
	if y == nil {
		return def
	}
	var b bool
	if y.Kind != yaml.ScalarNode || y.Decode(&b) != nil {
		n.ErrorAt(y, path, "expected true or false, got %s", describe(y))
		return def
	}
	return b
}

// Duration returns a Go duration (e.g. 500ms, 1s, 5m) under key.
func (n *Node) Duration(key string, def time.Duration) time.Duration {
	y, path := n.child(key)
	if y == nil {
		return def
	}
	d, err := time.ParseDuration(y.Value)
	if y.Kind != yaml.ScalarNode || err != nil || d < 0 {
		n.ErrorAt(y, path, "expected a duration such as 500ms, 1s or 5m, got %s", describe(y))
		return def
	}
	return d
}

// Size returns a byte size (e.g. 512KB, 10MB, 1048576) under key.
func (n *Node) Size(key string, def int64) int64 {
	y, path := n.child(key)
	if y == nil {
		return def
	}
	v, err := ParseSize(y.Value)
	if y.Kind != yaml.ScalarNode || err != nil {
		n.ErrorAt(y, path, "expected a size such as 512KB or 10MB, got %s", describe(y))
		return def
	}
	return v
}

// ParseSize reads sizes such as 1048576, 512KB, 10MB, 1GB (powers of 1024).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size")
	}
	return v * mult, nil
}

// Addr returns a listen address (host:port or :port) under key.
func (n *Node) Addr(key string, required bool, def string) string {
	y, path := n.child(key)
	if y == nil {
		if required {
			n.Errorf("missing required key %q", key)
		}
		return def
	}
	if _, port, err := net.SplitHostPort(y.Value); err != nil || port == "" {
		n.ErrorAt(y, path, "expected a listen address such as :8000 or 127.0.0.1:8000, got %s", describe(y))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		n.ErrorAt(y, path, "port must be a number from 0 to 65535, got %q", port)
	}
	return y.Value
}

// OneOf returns a scalar that must be one of allowed.
func (n *Node) OneOf(key string, def string, allowed ...string) string {
	v := n.String(key, false, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	y, path := n.child(key)
	n.ErrorAt(y, path, "expected one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// CheckUnknown reports keys that nothing asked for: usually a typo.
func (n *Node) CheckUnknown() {
	if n == nil || n.Y.Kind != yaml.MappingNode {
		return
	}
	// With a spec, its keys are the known ones (with those read before it was given, such
	// as a destination's name and type); without, the keys read.
	ok := maps.Clone(n.used)
	if n.spec != nil {
		for _, k := range n.spec.names() {
			ok[k] = true
		}
	}
	known := slices.Sorted(maps.Keys(ok))
	for i := 0; i+1 < len(n.Y.Content); i += 2 {
		k := n.Y.Content[i]
		if !ok[k.Value] {
			n.ErrorAt(k, n.Path, "unknown key %q (expected one of: %s)", k.Value, strings.Join(known, ", "))
		}
	}
}

func describe(y *yaml.Node) string {
	switch y.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if y.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(y.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}
