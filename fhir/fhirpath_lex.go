package fhir

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FHIRPath lexer: one pass over the expression, tokens with their offsets.

type fpToken struct {
	kind string // "id", "str", "num", "date", "time", "op", "var", "eof"
	text string
	pos  int
}

type fpLexer struct {
	src  string
	pos  int
	toks []fpToken
}

var (
	reFPDateTime = regexp.MustCompile(`^@[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?(T([0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?`)
	reFPTime     = regexp.MustCompile(`^@T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?`)
)

var fpOperators = []string{"<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".", ",", "=", "~", "<", ">", "+", "-", "*", "/", "|", "&"}

func lexFHIRPath(src string) ([]fpToken, error) {
	l := &fpLexer{src: src}
	for {
		if err := l.skipSpace(); err != nil {
			return nil, err
		}
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, fpToken{kind: "eof", pos: l.pos})
			return l.toks, nil
		}
		if err := l.token(); err != nil {
			return nil, err
		}
	}
}

// token reads one token at l.pos.
func (l *fpLexer) token() error {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case c == '\'' || c == '`':
		s, err := l.quoted(c)
		if err != nil {
			return err
		}
		kind := "str"
		if c == '`' {
			kind = "id"
		}
		l.toks = append(l.toks, fpToken{kind: kind, text: s, pos: start})
	case c >= '0' && c <= '9':
		l.number()
	case c == '@':
		return l.dateTime()
	case c == '%' && l.pos+1 < len(l.src) && (l.src[l.pos+1] == '\'' || l.src[l.pos+1] == '`'):
		l.pos++
		s, err := l.quoted(l.src[l.pos])
		if err != nil {
			return err
		}
		l.toks = append(l.toks, fpToken{kind: "var", text: s, pos: start})
	case c == '%' || c == '$' || isIdentStart(c):
		l.pos++
		// As in the HL7 engine, a variable name may contain '-': %vs-administrative-gender.
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || (l.src[l.pos] >= '0' && l.src[l.pos] <= '9') || (c == '%' && l.src[l.pos] == '-')) {
			l.pos++
		}
		kind, text := "id", l.src[start:l.pos]
		if c == '%' {
			kind, text = "var", text[1:]
			if text == "" {
				return fmt.Errorf("a variable name must follow %% at %d", start)
			}
		}
		l.toks = append(l.toks, fpToken{kind: kind, text: text, pos: start})
	default:
		for _, op := range fpOperators {
			if strings.HasPrefix(l.src[l.pos:], op) {
				l.pos += len(op)
				l.toks = append(l.toks, fpToken{kind: "op", text: op, pos: start})
				return nil
			}
		}
		return fmt.Errorf("unexpected character %q at %d", c, l.pos)
	}
	return nil
}

func (l *fpLexer) number() {
	start := l.pos
	for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
		l.pos++
	}
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' {
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
			l.pos++
		}
	}
	l.toks = append(l.toks, fpToken{kind: "num", text: l.src[start:l.pos], pos: start})
}

// dateTime reads @date, @dateTime (@2015T is a year-precision DateTime) and @Ttime literals.
func (l *fpLexer) dateTime() error {
	start := l.pos
	rest := l.src[l.pos:]
	if m := reFPTime.FindString(rest); m != "" {
		l.pos += len(m)
		l.toks = append(l.toks, fpToken{kind: "time", text: m[2:], pos: start})
		return nil
	}
	m := reFPDateTime.FindString(rest)
	if m == "" {
		return fmt.Errorf("bad date/time literal at %d", start)
	}
	l.pos += len(m)
	l.toks = append(l.toks, fpToken{kind: "date", text: m[1:], pos: start})
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (l *fpLexer) skipSpace() error {
	for l.pos < len(l.src) {
		switch {
		case strings.IndexByte(" \t\r\n\f", l.src[l.pos]) >= 0:
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return fmt.Errorf("unterminated comment at %d", l.pos)
			}
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (l *fpLexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == q {
			l.pos++
			return b.String(), nil
		}
		if c == '\\' && l.pos+1 < len(l.src) {
			l.pos++
			if err := l.escape(&b); err != nil {
				return "", err
			}
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", fmt.Errorf("unterminated %c string at %d", q, start)
}

// escape writes the character of the escape sequence at l.pos (after the backslash).
func (l *fpLexer) escape(b *strings.Builder) error {
	switch e := l.src[l.pos]; e {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'f':
		b.WriteByte('\f')
	case 'u':
		if l.pos+4 < len(l.src) {
			if r, err := strconv.ParseUint(l.src[l.pos+1:l.pos+5], 16, 32); err == nil {
				b.WriteRune(rune(r))
				l.pos += 5
				return nil
			}
		}
		return fmt.Errorf("bad \\u escape at %d", l.pos)
	default:
		b.WriteByte(e)
	}
	l.pos++
	return nil
}
