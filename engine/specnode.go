package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// A component's Build reads its keys through its FieldSpecs: n.WithSpec(fields), then
// n.Str("listen"), n.Dur("timeout"), … take the default and required-ness from the key's
// FieldSpec, and CheckUnknown refuses every key the spec does not name. A block (auth,
// tls, limits) is read with n.Block("auth"), whose keys are those the spec names
// auth.issuer, auth.audience, …

// nodeSpec is the FieldSpecs a Node reads its keys by; prefix is the node's place below
// the component ("" for the component's own node, "auth." for its auth block).
type nodeSpec struct {
	fields []FieldSpec
	prefix string
}

// WithSpec makes fields the keys of n: from now on the getters take defaults and
// required-ness from them, reading a key they do not name is a programming error (a panic
// in tests), and CheckUnknown refuses the keys they do not name. It returns n.
func (n *Node) WithSpec(fields []FieldSpec) *Node {
	n.spec = &nodeSpec{fields: fields}
	return n
}

func (s *nodeSpec) field(key string) (FieldSpec, bool) {
	for _, f := range s.fields {
		if f.Name == s.prefix+key {
			return f, true
		}
	}
	return FieldSpec{}, false
}

// knows reports whether key is a field of the node or a block holding fields.
func (s *nodeSpec) knows(key string) bool {
	full := s.prefix + key
	for _, f := range s.fields {
		if f.Name == full || strings.HasPrefix(f.Name, full+".") {
			return true
		}
	}
	return false
}

func (s *nodeSpec) below(key string) *nodeSpec {
	return &nodeSpec{fields: s.fields, prefix: s.prefix + key + "."}
}

// names are the node's own keys: fields and blocks.
func (s *nodeSpec) names() []string {
	var out []string
	for _, f := range s.fields {
		if rest, ok := strings.CutPrefix(f.Name, s.prefix); ok {
			k, _, _ := strings.Cut(rest, ".")
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// notInSpec is a getter asking for a key the spec does not name: a programming error,
// which fails the tests. A running server goes on, reading the key as before specs.
func (s *nodeSpec) notInSpec(key, path string) {
	if testing.Testing() {
		panic(fmt.Sprintf("engine: %s: key %q is not in the component's FieldSpecs", path, s.prefix+key))
	}
}

// specField is key's FieldSpec; a key the spec does not name reads as optional, with no
// default (and fails the tests).
func (n *Node) specField(key string) FieldSpec {
	if n.spec == nil {
		if testing.Testing() {
			panic(fmt.Sprintf("engine: %s: a spec getter for %q on a node without WithSpec", n.Path, key))
		}
		return FieldSpec{Name: key}
	}
	f, ok := n.spec.field(key)
	if !ok {
		n.spec.notInSpec(key, n.Path)
	}
	return f
}

// Str is String with the key's spec.
func (n *Node) Str(key string) string {
	f := n.specField(key)
	return n.String(key, f.Required, f.Default)
}

// SecretStr is Secret (${ENV} and ${file:…} expanded) with the key's spec.
func (n *Node) SecretStr(key string) string {
	f := n.specField(key)
	return n.Secret(key, f.Required, f.Default)
}

// Strs is Strings with the key's spec: its Default is a YAML list ([a, b]).
func (n *Node) Strs(key string) []string {
	f := n.specField(key)
	v := n.Strings(key, f.Required)
	if f.Default != "" && !n.Has(key) {
		v, _ = parseDefault[[]string](f, parseList)
	}
	return v
}

// Num is Int with the key's spec; min is the least value taken.
func (n *Node) Num(key string, min int) int {
	f := n.specField(key)
	def, _ := parseDefault(f, strconv.Atoi)
	return n.Int(key, def, min)
}

// Flag is Bool with the key's spec.
func (n *Node) Flag(key string) bool {
	f := n.specField(key)
	def, _ := parseDefault(f, strconv.ParseBool)
	return n.Bool(key, def)
}

// Dur is Duration with the key's spec.
func (n *Node) Dur(key string) time.Duration {
	f := n.specField(key)
	def, _ := parseDefault(f, time.ParseDuration)
	return n.Duration(key, def)
}

// Bytes is Size with the key's spec (0 when it has no Default).
func (n *Node) Bytes(key string) int64 {
	f := n.specField(key)
	def, _ := parseDefault(f, ParseSize)
	return n.Size(key, def)
}

// Address is Addr with the key's spec.
func (n *Node) Address(key string) string {
	f := n.specField(key)
	return n.Addr(key, f.Required, f.Default)
}

// Choice is OneOf with the key's spec: one of its Values, its Default when absent.
func (n *Node) Choice(key string) string {
	f := n.specField(key)
	return n.OneOf(key, f.Default, f.Values...)
}

// Block is Map with the key's spec: the block's keys are the fields named key.something.
func (n *Node) Block(key string) *Node {
	var required bool
	if n.spec != nil {
		f, _ := n.spec.field(key)
		required = f.Required
	}
	return n.Map(key, required)
}

// BlockOrEmpty is Block, or when the block is absent an empty one, whose getters give the
// spec's defaults.
func (n *Node) BlockOrEmpty(key string) *Node {
	if m := n.Block(key); m != nil {
		return m
	}
	m := newNode(n.File, n.Path+"."+key, &yaml.Node{Kind: yaml.MappingNode, Line: n.Y.Line, Column: n.Y.Column}, n.errs)
	if n.spec != nil {
		m.spec = n.spec.below(key)
	}
	return m
}

// parseDefault reads f.Default with parse; an unreadable Default is a programming error
// (CheckFields reports it; tests panic).
func parseDefault[T any](f FieldSpec, parse func(string) (T, error)) (T, error) {
	var zero T
	if f.Default == "" {
		return zero, nil
	}
	v, err := parse(f.Default)
	if err != nil {
		if testing.Testing() {
			panic(fmt.Sprintf("engine: the default %q of %s does not parse: %v", f.Default, f.Name, err))
		}
		return zero, err
	}
	return v, nil
}

func parseList(s string) ([]string, error) {
	var v []string
	err := yaml.Unmarshal([]byte(s), &v)
	return v, err
}

// CheckFields reports mistakes in a component's FieldSpecs: a name given twice, a Default
// that its Type cannot read, a Default outside Values, a missing Type or Description.
func CheckFields(fields []FieldSpec) error {
	var errs []string
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.Name] {
			errs = append(errs, fmt.Sprintf("%s: named twice", f.Name))
		}
		seen[f.Name] = true
		if f.Type == "" || f.Description == "" {
			errs = append(errs, fmt.Sprintf("%s: needs a Type and a Description", f.Name))
		}
		if f.Default == "" {
			continue
		}
		var err error
		switch f.Type {
		case "duration":
			_, err = time.ParseDuration(f.Default)
		case "size":
			_, err = ParseSize(f.Default)
		case "number":
			_, err = strconv.Atoi(f.Default)
		case "bool":
			_, err = strconv.ParseBool(f.Default)
		case "list":
			_, err = parseList(f.Default)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: default %q is not a %s: %v", f.Name, f.Default, f.Type, err))
		}
		if len(f.Values) > 0 && !slices.Contains(f.Values, f.Default) {
			errs = append(errs, fmt.Sprintf("%s: default %q is not one of %s", f.Name, f.Default, strings.Join(f.Values, ", ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Prefixed is fields as the keys of a block: Prefixed("serve.", authFields) names
// serve.auth.issuer what authFields names auth.issuer.
func Prefixed(prefix string, fields []FieldSpec) []FieldSpec {
	out := make([]FieldSpec, len(fields))
	for i, f := range fields {
		f.Name = prefix + f.Name
		out[i] = f
	}
	return out
}
