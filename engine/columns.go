package engine

import (
	"errors"
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"

	"junction/transforms"
)

// Custom metadata columns (Mirth's "custom metadata"): a channel's `columns:` maps a name
// to an expression whose value is stored with each message, shown in the message list and
// filtered on (MessageFilter.Columns).
//
// The expressions see the message as the channel's transforms left it when it went on
// (TRANSFORMED, or FILTERED: filters run before transforms), and the message as received
// when a filter or transform failed (ERROR): an operator looks for the failed message by
// what the sender sent. A message whose content does not parse has no columns. An
// expression that fails gives no value and a warning on the message, never an ERROR.
// Empty values are not stored.

const (
	// MaxColumns is the most columns a channel may declare.
	MaxColumns = 10
	// MaxColumnValue is the most characters of a value stored (longer ones are cut).
	MaxColumnValue = 256
)

var columnNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)

// Column is one custom metadata column of a channel.
type Column struct {
	Name    string
	Program *transforms.Program
}

// ColumnNames lists the channel's column names in the order written.
func (c *Channel) ColumnNames() []string {
	names := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		names[i] = col.Name
	}
	return names
}

// ValidColumnName reports whether s may name a column (letters, digits and _, starting
// with a letter, at most 32).
func ValidColumnName(s string) bool { return columnNamePattern.MatchString(s) }

// buildColumns compiles the channel's `columns:` mapping (name: expression).
func buildColumns(n *Node, data []byte, dataTypes []string, lib *transforms.Library) []Column {
	y, path := n.child("columns")
	if y == nil {
		return nil
	}
	if y.Kind != yaml.MappingNode {
		n.ErrorAt(y, path, "expected a mapping of column names to expressions, got %s", describe(y))
		return nil
	}
	if len(y.Content)/2 > MaxColumns {
		n.ErrorAt(y, path, "at most %d columns, got %d", MaxColumns, len(y.Content)/2)
		return nil
	}
	var cols []Column
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], deref(y.Content[i+1])
		p := path + "." + k.Value
		if !ValidColumnName(k.Value) {
			n.ErrorAt(k, p, "column names use letters, digits and '_', start with a letter and are at most 32 long, got %q", k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			n.ErrorAt(v, p, "expected an expression (a quoted text line), got %s", describe(v))
			continue
		}
		prog, err := transforms.CompileWith(scriptAt(n, data, v, p), transforms.Transform, dataTypes, lib)
		if err != nil {
			n.scriptError(v, p, err)
			continue
		}
		cols = append(cols, Column{Name: k.Value, Program: prog})
	}
	return cols
}

// scriptError records a script's compile error at its own line.
func (n *Node) scriptError(y *yaml.Node, path string, err error) {
	var ce *transforms.CompileError
	if errors.As(err, &ce) {
		*n.errs = append(*n.errs, ConfigError{File: n.File, Line: ce.Line, Path: ce.Script.Path, Msg: ce.Msg})
		return
	}
	n.ErrorAt(y, path, "%v", err)
}

// addColumns evaluates the channel's columns for a message its steps made o of (see
// the top of this file), adding a warning to o for each expression that failed.
func (c *Channel) addColumns(in *Inbound, o *outcome) {
	if len(c.Columns) == 0 || o.msg == nil {
		return
	}
	msg := o.msg
	if o.status == StatusError {
		m, err := transforms.Parse(in.DataType, in.Body, in.Meta)
		if err != nil {
			return
		}
		msg = m
	}
	var ws []Warning
	o.columns, ws = c.columnValues(msg)
	o.warnings = append(o.warnings, ws...)
}

// columnValues evaluates the channel's columns on msg: the values (nil when none), and
// a warning for each expression that failed.
func (c *Channel) columnValues(msg *transforms.Message) (values map[string]string, warnings []Warning) {
	if len(c.Columns) == 0 {
		return nil, nil
	}
	msg.Converter = c.Converter
	s := transforms.NewSession(msg, c.Name)
	defer s.Close()
	for _, col := range c.Columns {
		v, err := s.Value(col.Program)
		if err != nil {
			warnings = append(warnings, Warning{Path: "columns." + col.Name, Problem: err.Error(),
				Text: fmt.Sprintf("column %s: %v", col.Name, err)})
			continue
		}
		if v = truncateRunes(v, MaxColumnValue); v == "" {
			continue
		}
		if values == nil {
			values = make(map[string]string, len(c.Columns))
		}
		values[col.Name] = v
	}
	return values, warnings
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
