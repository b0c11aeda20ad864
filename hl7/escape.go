package hl7

import "strings"

const hexDigits = "0123456789ABCDEF"

// Escape encodes s for use as an ER7 leaf value: the delimiters become
// \F\ \S\ \T\ \R\ \E\ (and \P\ for the v2.7 truncation character), and
// control characters other than tab become \Xhh\. Escaping CR and LF keeps a
// value from splitting its segment, and escaping 0x0B/0x1C keeps it from
// breaking MLLP framing. Bytes >= 0x80 are copied as they are, so UTF-8 text
// is never split. s is returned unchanged (no allocation) when nothing needs
// escaping. d must hold valid delimiters, e.g. from Message.Delims.
func Escape(s string, d Delimiters) string {
	i := 0
	for i < len(s) && !needsEscape(s[i], d) {
		i++
	}
	if i == len(s) {
		return s
	}
	// Size the result exactly: growing a large value in steps would
	// allocate several times its size.
	n := len(s)
	for j := i; j < len(s); j++ {
		if c := s[j]; needsEscape(c, d) {
			n += 2 // \S\ for ^
			if c < 0x20 {
				n += 2 // \Xhh\ (delimiters are printable)
			}
		}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		var code byte
		switch {
		case c == d.Escape:
			code = 'E'
		case c == d.Field:
			code = 'F'
		case c == d.Component:
			code = 'S'
		case c == d.Subcomponent:
			code = 'T'
		case c == d.Repetition:
			code = 'R'
		case d.Truncation != 0 && c == d.Truncation:
			code = 'P'
		case c < 0x20 && c != '\t':
			b.WriteByte(d.Escape)
			b.WriteByte('X')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
			b.WriteByte(d.Escape)
			continue
		default:
			b.WriteByte(c)
			continue
		}
		b.WriteByte(d.Escape)
		b.WriteByte(code)
		b.WriteByte(d.Escape)
	}
	return b.String()
}

func needsEscape(c byte, d Delimiters) bool {
	return c == d.Escape || c == d.Field || c == d.Component || c == d.Subcomponent ||
		c == d.Repetition || (d.Truncation != 0 && c == d.Truncation) || (c < 0x20 && c != '\t')
}

// Unescape decodes the escape sequences of an ER7 leaf value: \F\ \S\ \T\ \R\
// \E\, \P\ (only when the message declares a truncation character), \Xhh..\
// (hex bytes, e.g. \XC3A1\ is "á" in UTF-8) and \.br\ (a line break, "\n").
// Sequences it does not interpret (\H\, \N\, \Cxxyy\, \Mxxyyzz\, \Zxx\, other
// formatting commands, malformed hex) are kept as they are, as is an escape
// character with no closing one. s is returned unchanged (no allocation) when
// it contains no escape character.
func Unescape(s string, d Delimiters) string {
	i := strings.IndexByte(s, d.Escape)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:] // s[0] is an escape character
		j := strings.IndexByte(s[1:], d.Escape)
		if j < 0 {
			break // no closing escape: the rest is literal text
		}
		seq := s[1 : 1+j]
		if !writeUnescaped(&b, seq, d) {
			b.WriteString(s[:j+2])
		}
		s = s[j+2:]
		i = strings.IndexByte(s, d.Escape)
	}
	b.WriteString(s)
	return b.String()
}

// writeUnescaped writes the decoding of the escape sequence seq (the text
// between the escape characters) and reports whether it knew seq.
func writeUnescaped(b *strings.Builder, seq string, d Delimiters) bool {
	if len(seq) == 1 {
		switch seq[0] {
		case 'F':
			b.WriteByte(d.Field)
		case 'S':
			b.WriteByte(d.Component)
		case 'T':
			b.WriteByte(d.Subcomponent)
		case 'R':
			b.WriteByte(d.Repetition)
		case 'E':
			b.WriteByte(d.Escape)
		case 'P':
			if d.Truncation == 0 {
				return false
			}
			b.WriteByte(d.Truncation)
		default:
			return false
		}
		return true
	}
	if seq == "" {
		return false
	}
	if seq == ".br" {
		b.WriteByte('\n')
		return true
	}
	if seq[0] == 'X' && len(seq)%2 == 1 {
		hex := seq[1:]
		for i := 0; i < len(hex); i++ {
			if unhex(hex[i]) < 0 {
				return false
			}
		}
		for i := 0; i < len(hex); i += 2 {
			b.WriteByte(byte(unhex(hex[i])<<4 | unhex(hex[i+1])))
		}
		return true
	}
	return false
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
