package fhirstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold is how string search parameters compare: lower case and without accents, so
// family=fernandez finds FERNÁNDEZ and given=sio finds Siobhán (HAPI normalises the same
// way). The table covers Latin-1 and Latin Extended-A, the letters of European names;
// other scripts are only lower-cased.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		if base, ok := foldTable[r]; ok {
			b.WriteString(base)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var foldTable = func() map[rune]string {
	groups := []struct{ from, to string }{
		{"àáâãäåāăą", "a"}, {"çćĉċč", "c"}, {"ďđð", "d"}, {"èéêëēĕėęě", "e"},
		{"ĝğġģ", "g"}, {"ĥħ", "h"}, {"ìíîïĩīĭįı", "i"}, {"ĵ", "j"}, {"ķĸ", "k"},
		{"ĺļľŀł", "l"}, {"ñńņňŉŋ", "n"}, {"òóôõöøōŏő", "o"}, {"ŕŗř", "r"},
		{"śŝşšſ", "s"}, {"ţťŧ", "t"}, {"ùúûüũūŭůűų", "u"}, {"ŵ", "w"}, {"ýÿŷ", "y"},
		{"źżž", "z"}, {"ß", "ss"}, {"æ", "ae"}, {"œ", "oe"}, {"þ", "th"}, {"ĳ", "ij"},
	}
	m := map[rune]string{}
	for _, g := range groups {
		for _, r := range g.from {
			m[r] = g.to
		}
	}
	return m
}()

// prefixEnd is the smallest string greater than every string starting with p, for an
// index range scan (p ≤ value < prefixEnd(p)). UTF-8 never uses the byte 0xFF, so the last
// byte below it can always be incremented.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "" // unreachable for UTF-8 text
}
