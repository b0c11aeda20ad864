package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// digestOf is a digest of YAML trees (as expanded): equal trees, equal digests.
func digestOf(ys ...*yaml.Node) string {
	h := sha256.New()
	for _, y := range ys {
		if y != nil {
			b, _ := yaml.Marshal(y)
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// maxChangeLines bounds the lines a reload report gives one channel (or the top).
const maxChangeLines = 20

// diffConfigs says what next changes of old: channels added, removed, changed (their
// expanded YAML or the shared code differ) and unchanged, with readable lines of what
// changed, read from the files as written (so a ${NAME} reference shows, never its value).
func diffConfigs(old, next *config) *ReloadReport {
	r := &ReloadReport{}
	oldRaw, newRaw := rawTop(old.text), rawTop(next.text)
	oldCh, newCh := rawChannels(oldRaw), rawChannels(newRaw)
	top := &changeLines{}
	for _, k := range unionKeys(oldRaw, newRaw) {
		if k != "channels" {
			diffNodes(top, k, mapValue(oldRaw, k), mapValue(newRaw, k))
		}
	}
	r.Changes = append(r.Changes, top.done("")...)
	for _, ch := range next.channels {
		prev := old.byName[ch.Name]
		switch {
		case prev == nil:
			r.Added = append(r.Added, ch.Name)
			r.Changes = append(r.Changes, "channel "+ch.Name+": added")
		case prev.digest == ch.digest:
			r.Unchanged = append(r.Unchanged, ch.Name)
		default:
			r.Changed = append(r.Changed, ch.Name)
			lines := &changeLines{}
			diffNodes(lines, "", oldCh[ch.Name], newCh[ch.Name])
			out := lines.done("channel " + ch.Name + ": ")
			if len(out) == 0 {
				out = []string{"channel " + ch.Name + ": changed through ${…} values or the shared functions and lookups"}
			}
			r.Changes = append(r.Changes, out...)
		}
	}
	for _, ch := range old.channels {
		if next.byName[ch.Name] == nil {
			r.Removed = append(r.Removed, ch.Name)
			r.Changes = append(r.Changes, "channel "+ch.Name+": removed (its queued messages stay queued until it is configured again)")
		}
	}
	return r
}

// rawTop is the top mapping of a configuration's text, not expanded (nil if none).
func rawTop(text []byte) *yaml.Node {
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return doc.Content[0]
}

// rawChannels are the channels of a top mapping by name.
func rawChannels(top *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if l := mapValue(top, "channels"); l != nil {
		for _, ch := range l.Content {
			if n := mapValue(ch, "name"); n != nil {
				out[n.Value] = ch
			}
		}
	}
	return out
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// unionKeys are the keys of two mappings: a's in order, then b's new ones.
func unionKeys(a, b *yaml.Node) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []*yaml.Node{a, b} {
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(m.Content); i += 2 {
			if k := m.Content[i].Value; !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// changeLines collects change lines, keeping the first maxChangeLines.
type changeLines struct {
	lines []string
	more  int
}

func (c *changeLines) add(format string, args ...any) {
	if len(c.lines) < maxChangeLines {
		c.lines = append(c.lines, fmt.Sprintf(format, args...))
	} else {
		c.more++
	}
}

func (c *changeLines) done(prefix string) []string {
	out := make([]string, 0, len(c.lines)+1)
	for _, l := range c.lines {
		out = append(out, prefix+l)
	}
	if c.more > 0 {
		out = append(out, fmt.Sprintf("%s… and %d more changes", prefix, c.more))
	}
	return out
}

// diffNodes adds a line per difference between a and b under path. Lists of mappings
// with names (destinations) are matched by name, other lists by position.
func diffNodes(c *changeLines, path string, a, b *yaml.Node) {
	at := func(p string) string {
		if p == "" {
			return "(the whole)"
		}
		return p
	}
	switch {
	case a == nil && b == nil:
	case a == nil:
		c.add("%s: added %s", at(path), show(path, b))
	case b == nil:
		c.add("%s: removed (was %s)", at(path), show(path, a))
	case a.Kind != b.Kind || a.Kind == yaml.ScalarNode || a.Kind == yaml.AliasNode:
		if a.Kind != b.Kind || a.Value != b.Value {
			c.add("%s: %s → %s", at(path), show(path, a), show(path, b))
		}
	case a.Kind == yaml.MappingNode:
		for _, k := range unionKeys(a, b) {
			diffNodes(c, joinPath(path, k), mapValue(a, k), mapValue(b, k))
		}
	case a.Kind == yaml.SequenceNode && named(a) && named(b):
		an, bn := byName(a), byName(b)
		for _, k := range unionKeys(namesAsMap(a), namesAsMap(b)) {
			diffNodes(c, path+"["+k+"]", an[k], bn[k])
		}
	case a.Kind == yaml.SequenceNode:
		for i := 0; i < max(len(a.Content), len(b.Content)); i++ {
			var x, y *yaml.Node
			if i < len(a.Content) {
				x = a.Content[i]
			}
			if i < len(b.Content) {
				y = b.Content[i]
			}
			diffNodes(c, fmt.Sprintf("%s[%d]", path, i), x, y)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// named tells whether every item of a list is a mapping with a name.
func named(l *yaml.Node) bool {
	for _, it := range l.Content {
		if mapValue(it, "name") == nil {
			return false
		}
	}
	return len(l.Content) > 0
}

func byName(l *yaml.Node) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(l.Content))
	for _, it := range l.Content {
		out[mapValue(it, "name").Value] = it
	}
	return out
}

// namesAsMap is a mapping whose keys are the list's names (for unionKeys).
func namesAsMap(l *yaml.Node) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, it := range l.Content {
		m.Content = append(m.Content, mapValue(it, "name"), it)
	}
	return m
}

var secretKey = regexp.MustCompile(`(?i)(secret|password|token|private|credential|authorization|api.?key)`)

// show renders a value for a change line: a scalar quoted and shortened (hidden under
// keys that may hold secrets), a block as its kind.
func show(path string, y *yaml.Node) string {
	switch {
	case y.Kind == yaml.MappingNode:
		return "(a block)"
	case y.Kind == yaml.SequenceNode:
		return fmt.Sprintf("(a list of %d)", len(y.Content))
	case secretKey.MatchString(path[strings.LastIndexByte(path, '.')+1:]):
		return "(hidden)"
	}
	v := strings.Join(strings.Fields(y.Value), " ")
	if r := []rune(v); len(r) > 80 {
		v = string(r[:77]) + "…"
	}
	return fmt.Sprintf("%q", v)
}
