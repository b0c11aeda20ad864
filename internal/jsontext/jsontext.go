// Package jsontext writes JSON text by hand where encoding/json cannot: members in the
// order FHIR resources are written, and canonical forms for hashing.
package jsontext

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString writes s as a JSON string, escaping what JSON requires plus U+2028/U+2029
// (which break JavaScript consumers); invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// AppendScalar writes a JSON string, number, boolean or null held as a string,
// json.Number, int, bool or nil. ok is false for any other type: containers are the
// caller's to write, in its own member order and layout.
func AppendScalar(b []byte, v any) (out []byte, ok bool) {
	switch x := v.(type) {
	case string:
		return AppendString(b, x), true
	case json.Number:
		return append(b, x...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case nil:
		return append(b, "null"...), true
	}
	return b, false
}
