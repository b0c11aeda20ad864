package engine

import (
	"fmt"
	"regexp"
	"strings"
)

// yaml.v3 reports many indentation mistakes at a line other than the wrong one ("did not
// find expected key" at the line of the block the wrong line breaks, often line 1). When
// the YAML does not parse, indentError reads the file's block structure line by line and
// names the first line indented so that it belongs to no block, with a hint. It knows the
// block style routes.yaml is written in; lines it cannot read (flow collections over
// several lines, block scalars' text, continued plain text) are passed over.

// indentLevel is a column where a block's lines start: a mapping's keys or a list's items.
type indentLevel struct {
	col  int
	item bool // a list's "- " items, else a mapping's keys
	line int  // the first line at this level
	key  string
}

var yamlKeyRe = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#'"\[\]{},&*!|>%@` + "`" + `-][^#]*?|-[^\s#]*?)\s*:(\s|$)`)

// yamlLine is one line of block YAML: where its content starts and what it is.
type yamlLine struct {
	indent  int
	item    bool   // "- …"
	key     string // "key:" (after "- " for an item), "" when none
	content int    // column of the key (or of an item's content)
	rest    string // what follows "key:" (comment dropped), or the item's content
}

func readYAMLLine(l string) yamlLine {
	t := strings.TrimLeft(l, " ")
	y := yamlLine{indent: len(l) - len(t), content: len(l) - len(t), rest: stripComment(t)}
	if t == "-" || strings.HasPrefix(t, "- ") {
		y.item = true
		u := strings.TrimLeft(t[1:], " ")
		y.content += len(t) - len(u)
		t = u
		y.rest = stripComment(t)
	}
	if m := yamlKeyRe.FindStringSubmatch(t); m != nil {
		y.key = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), ":"))
		y.rest = strings.TrimSpace(stripComment(t[len(m[0]):]))
	}
	return y
}

// stripComment drops a trailing " # comment" outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// opensBlock reports whether a value written after "key:" (or "- ") leaves the key's
// content to the lines below.
func opensBlock(rest string) bool {
	return rest == "" || rest[0] == '&' && !strings.Contains(rest, " ")
}

func isBlockScalar(rest string) bool {
	return rest != "" && (rest[0] == '|' || rest[0] == '>')
}

// flowDepth is how many [ and { a value leaves open, outside quotes.
func flowDepth(s string) int {
	d := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

// unclosedQuote is the quote a value leaves open at its line's end (a quoted scalar
// going on over the next lines), 0 when none. A quote counts only where a scalar starts:
// "it's" in plain text opens nothing.
func unclosedQuote(s string) byte {
	var quote byte
	prev := byte(' ')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(s) && s[i+1] == '\'' {
					i++ // '' is a quote inside single quotes
					continue
				}
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case (c == '"' || c == '\'') && strings.IndexByte(" ,[{:-", prev) >= 0:
			quote = c
		}
		prev = c
	}
	return quote
}

// indentError is the first badly indented line of data, or nil when none is found.
func indentError(file string, data []byte) *ConfigError {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var stack []indentLevel // the blocks open, outermost first
	opened := -1            // the column of a key whose value is the block below, else -1
	skipAbove := -1         // a block scalar's text: lines indented deeper than this are skipped
	flow := 0               // [ and { still open
	var quote byte          // a quoted scalar's quote, open since an earlier line
	fail := func(n int, format string, args ...any) *ConfigError {
		return &ConfigError{File: file, Line: n, Msg: "YAML syntax: wrong indentation: " + fmt.Sprintf(format, args...)}
	}
	for i, raw := range lines {
		n := i + 1
		if quote != 0 { // the text of a quoted scalar: any indentation goes
			quote = unclosedQuote(string(quote) + raw)
			continue
		}
		t := strings.TrimLeft(raw, " ")
		if t == "" || t[0] == '#' || strings.TrimSpace(t) == "" {
			continue
		}
		indent := len(raw) - len(t)
		if skipAbove >= 0 && indent > skipAbove {
			continue
		}
		skipAbove = -1
		if flow > 0 { // inside [ ] or { } any indentation goes
			flow += flowDepth(t)
			continue
		}
		if t[0] == '\t' {
			return fail(n, "a tab in the indentation: YAML indents with spaces only (replace the tab with spaces lining the line up with its block)")
		}
		if t == "---" || t == "..." || strings.HasPrefix(t, "%") {
			continue
		}
		y := readYAMLLine(raw)
		kind := "key"
		if y.item {
			kind = "list item"
		}
		if len(stack) == 0 || opened >= 0 && (indent > opened || indent == opened && y.item) {
			stack = append(stack, indentLevel{col: indent, item: y.item, line: n, key: y.key})
		} else {
			if !y.item && y.key == "" && indent > stack[len(stack)-1].col {
				opened = -1
				flow, quote = max(flowDepth(y.rest), 0), unclosedQuote(y.rest)
				continue // the continued text of a value
			}
			var popped *indentLevel
			for len(stack) > 1 && (stack[len(stack)-1].col > indent || stack[len(stack)-1].col == indent && stack[len(stack)-1].item && !y.item) {
				if stack[len(stack)-1].col > indent {
					popped = &stack[len(stack)-1]
				}
				stack = stack[:len(stack)-1]
			}
			top := stack[len(stack)-1]
			switch {
			case top.col == indent && top.item != y.item:
				return fail(n, "a %s among the keys of the mapping at line %d (%s): indent a list under a key ending in \":\", or write the key without \"- \"", kind, top.line, spaces(top.col))
			case top.col < indent && popped != nil:
				return fail(n, "this %s is indented %s, between its block's %d (line %d) and the enclosing block's %d (line %d): line it up with one of them", kind, spaces(indent), popped.col, popped.line, top.col, top.line)
			case top.col < indent:
				return fail(n, "this %s is indented %s, %d more than line %d above it (%s), which opens no block: lines of one block line up (or did line %d mean to end in \":\"?)", kind, spaces(indent), indent-top.col, lastContent(lines, i), spaces(top.col), lastContent(lines, i))
			}
		}
		opened = -1
		if y.item && y.key != "" {
			stack = append(stack, indentLevel{col: y.content, line: n, key: y.key})
		}
		switch {
		case isBlockScalar(y.rest):
			skipAbove = indent
		case y.key != "" && opensBlock(y.rest):
			opened = y.content
		case y.item && y.key == "" && opensBlock(y.rest):
			opened = indent
		default:
			flow = max(flowDepth(y.rest), 0)
			quote = unclosedQuote(y.rest)
		}
	}
	return nil
}

// lastContent is the line number of the last line before lines[i] holding something.
func lastContent(lines []string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if t := strings.TrimSpace(lines[j]); t != "" && t[0] != '#' {
			return j + 1
		}
	}
	return 1
}

func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return fmt.Sprintf("%d spaces", n)
}
