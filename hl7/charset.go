package hl7

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Charset is a character set a message's bytes are read in or written in,
// named by MSH-18 (HL7 table 0211). The zero value is CharsetUTF8.
//
// Only the character sets that share ASCII's bytes for the delimiters and
// segment names are read: UTF-8, ASCII and the single-byte ISO 8859 sets in
// use in Western Europe, plus Windows-1252, which has no HL7 name but is what
// most "8859/1" senders write (see DecodeCharset).
type Charset uint8

// The character sets DecodeCharset reads and Encode writes.
const (
	CharsetUTF8        Charset = iota // "UNICODE UTF-8" (and "UNICODE")
	CharsetASCII                      // "ASCII"
	CharsetLatin1                     // "8859/1": ISO 8859-1
	CharsetLatin9                     // "8859/15": ISO 8859-15 (Latin-1 with €, Š, š, Ž, ž, Œ, œ, Ÿ)
	CharsetWindows1252                // no HL7 name: Latin-1 with printable characters at 0x80–0x9F
)

// String returns the IANA name, as used in a MIME charset parameter.
func (c Charset) String() string {
	switch c {
	case CharsetUTF8:
		return "UTF-8"
	case CharsetASCII:
		return "US-ASCII"
	case CharsetLatin1:
		return "ISO-8859-1"
	case CharsetLatin9:
		return "ISO-8859-15"
	case CharsetWindows1252:
		return "windows-1252"
	}
	return fmt.Sprintf("Charset(%d)", uint8(c))
}

// MSH18 returns the HL7 table 0211 name for MSH-18 of a message written in c.
// Windows-1252 has none and is labelled "8859/1", as its senders label it.
func (c Charset) MSH18() string {
	switch c {
	case CharsetASCII:
		return "ASCII"
	case CharsetLatin1, CharsetWindows1252:
		return "8859/1"
	case CharsetLatin9:
		return "8859/15"
	}
	return "UNICODE UTF-8"
}

// LookupCharset returns the character set an MSH-18 value (or a MIME charset
// name) names. Case, spaces and punctuation are ignored, so "8859/1",
// "ISO-8859-1" and "latin1" are all CharsetLatin1. ok is false for names this
// package does not read, such as "8859/2" or "UNICODE UTF-16".
func LookupCharset(name string) (c Charset, ok bool) {
	return lookupCharset([]byte(name))
}

// lookupCharset normalises name on the stack (upper case, letters and digits
// only), so the lookup of every message's MSH-18 allocates nothing.
func lookupCharset(name []byte) (Charset, bool) {
	var buf [24]byte
	n := 0
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			continue
		}
		if n == len(buf) {
			return 0, false
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "UNICODEUTF8", "UNICODE", "UTF8":
		return CharsetUTF8, true
	case "ASCII", "USASCII", "ISOIR6":
		return CharsetASCII, true
	case "88591", "ISO88591", "LATIN1", "ISOIR100":
		return CharsetLatin1, true
	case "885915", "ISO885915", "LATIN9":
		return CharsetLatin9, true
	case "WINDOWS1252", "CP1252":
		return CharsetWindows1252, true
	}
	return 0, false
}

// DecodeCharset reads raw, an ER7 message (or a batch of them) in the
// character set its MSH-18 names, and returns it in UTF-8, the character set
// it was read as (the one to write the answer in) and warnings for an
// operator. It never fails: every byte sequence is read as something.
//
// MSH-18 is read from the first MSH segment (its first repetition), without
// parsing the message. For a batch whose messages name different character
// sets, split it first (SplitBatch works on the raw bytes: the delimiters are
// ASCII) and decode each message. MSH-18 itself is left as written.
//
//   - "UNICODE UTF-8", "UNICODE" or empty: UTF-8. Bytes that are not valid
//     UTF-8 are read as Windows-1252, with a warning.
//   - "8859/1": ISO 8859-1, except that bytes 0x80–0x9F (control codes no one
//     sends in ISO 8859-1) are read as Windows-1252 (€, ‘’ “”, –, …) and the
//     character set returned is then CharsetWindows1252: most senders that
//     label their messages 8859/1 write Windows-1252, and browsers read the
//     label the same way (WHATWG Encoding Standard).
//   - "8859/15": ISO 8859-15, bytes 0x80–0x9F read as Windows-1252 likewise.
//   - "8859/1" or "8859/15" on bytes that are valid UTF-8 with non-ASCII
//     characters: UTF-8, with a warning. The sender mislabels its messages;
//     Latin-1 text is in practice never valid UTF-8 (é would have to be
//     followed by a byte in 0x80–0xBF, which are not letters).
//   - "ASCII": ASCII; bytes above 0x7F are read as UTF-8 if valid, else as
//     Windows-1252, with a warning.
//   - any other name: UTF-8 if valid, else Windows-1252, with a warning
//     naming MSH-18.
//
// A UTF-8 byte order mark at the start of raw is dropped. When raw is pure
// ASCII, or valid UTF-8 read as UTF-8, the result is raw itself (after the
// mark), and nothing is allocated unless there is a warning. Otherwise it is
// a new slice. Each step is one pass over raw: linear in its size.
func DecodeCharset(raw []byte) (text []byte, cs Charset, warnings []string) {
	if len(raw) >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF {
		raw = raw[3:]
	}
	label := msh18(raw)
	cs, known := CharsetUTF8, true
	if len(label) > 0 {
		cs, known = lookupCharset(label)
	}
	first := firstNonASCII(raw)
	if first == len(raw) {
		// Every character set read here reads ASCII the same.
		if !known {
			return raw, CharsetUTF8, []string{fmt.Sprintf("MSH-18 %q is not a character set Junction reads: read as UTF-8", label)}
		}
		return raw, cs, nil
	}
	valid := utf8.Valid(raw[first:])
	if known && cs != CharsetUTF8 && cs != CharsetASCII {
		switch {
		case valid:
			return raw, CharsetUTF8, []string{fmt.Sprintf("MSH-18 is %q but the message is valid UTF-8 with non-ASCII characters: read as UTF-8", label)}
		case cs == CharsetLatin9:
			return decodeSingleByte(raw, first, &latin9), cs, nil
		case cs == CharsetLatin1 && hasC1(raw[first:]):
			// 8859/1 is read through the Windows-1252 table either
			// way; which of the two it was decides what to answer in.
			cs = CharsetWindows1252
		}
		return decodeSingleByte(raw, first, &windows1252), cs, nil
	}
	if known && cs == CharsetUTF8 && valid {
		return raw, cs, nil
	}
	// UTF-8 that is not, ASCII that is not, or a name not read here: UTF-8
	// if valid, else Windows-1252.
	why, join := "MSH-18 is empty", " and"
	switch {
	case !known:
		why = fmt.Sprintf("MSH-18 %q is not a character set Junction reads", label)
	case cs == CharsetASCII:
		why = fmt.Sprintf("MSH-18 is ASCII but byte %d is 0x%02X, above 0x7F", first+1, raw[first])
		join = ", and"
	case len(label) > 0:
		why, join = fmt.Sprintf("MSH-18 is %q", label), " but"
	}
	if valid {
		return raw, CharsetUTF8, []string{why + ": read as UTF-8"}
	}
	where := ""
	if bad := first + invalidUTF8At(raw[first:]); bad != first || cs != CharsetASCII {
		where = fmt.Sprintf(" (byte %d is 0x%02X)", bad+1, raw[bad])
	}
	return decodeSingleByte(raw, first, &windows1252), CharsetWindows1252, []string{
		why + join + " the message is not valid UTF-8" + where + ": read as Windows-1252"}
}

// msh18 returns the first repetition of MSH-18 in the first MSH segment of
// raw, with spaces around it trimmed, or nil. A line is an MSH segment when
// it starts with "MSH" and a field separator (skipping MLLP's start block).
func msh18(raw []byte) []byte {
	for pos := 0; pos < len(raw); {
		end := pos
		for end < len(raw) && raw[end] != '\r' && raw[end] != '\n' {
			end++
		}
		line := bytes.TrimLeft(raw[pos:end], "\x0b")
		if len(line) >= 5 && line[0] == 'M' && line[1] == 'S' && line[2] == 'H' && isPunctByte(line[3]) {
			return mshField18(line)
		}
		pos = end + 1
	}
	return nil
}

// mshField18 reads MSH-18 from an MSH segment: MSH-1 is the separator after
// "MSH", so the field after it is MSH-2 and MSH-18 is the 17th.
func mshField18(msh []byte) []byte {
	fs := msh[3]
	rest := msh[4:]
	enc := rest
	if i := bytes.IndexByte(rest, fs); i >= 0 {
		enc = rest[:i]
	}
	for n := 1; n < 17; n++ {
		i := bytes.IndexByte(rest, fs)
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
	if i := bytes.IndexByte(rest, fs); i >= 0 {
		rest = rest[:i]
	}
	// The first repetition, and of it the first component: MSH-18 is an ID,
	// but a stray component must not hide the name.
	for _, sep := range enc[:min(len(enc), 2)] {
		if i := bytes.IndexByte(rest, sep); i >= 0 && isPunctByte(sep) && sep != fs {
			rest = rest[:i]
		}
	}
	return bytes.TrimSpace(rest)
}

// isPunctByte reports whether c is printable ASCII other than a letter or digit:
// what a delimiter may be.
func isPunctByte(c byte) bool {
	return c > ' ' && c < 0x7F &&
		(c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z')
}

// firstNonASCII returns the index of the first byte of b above 0x7F, or
// len(b), eight bytes at a time.
func firstNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
			uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
		if w&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return i
		}
	}
	return len(b)
}

// invalidUTF8At returns the index of the first byte of b that does not start
// a valid UTF-8 sequence, or len(b).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// hasC1 reports whether b has a byte in 0x80–0x9F.
func hasC1(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 && c <= 0x9F {
			return true
		}
	}
	return false
}

// decodeSingleByte returns raw in UTF-8, reading each byte from 0x80 up
// through table; raw[:first] is ASCII.
func decodeSingleByte(raw []byte, first int, table *[128]rune) []byte {
	// Every byte from first on takes at most 3 bytes in UTF-8, most 2.
	out := make([]byte, first, len(raw)+(len(raw)-first)/2+8)
	copy(out, raw[:first])
	for _, c := range raw[first:] {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, table[c-0x80])
		}
	}
	return out
}

// cp1252C1 holds the characters Windows-1252 has at 0x80–0x9F. The five
// bytes it leaves undefined read as the control codes of the same value, as
// the WHATWG Encoding Standard reads them, so any byte decodes and encodes
// back to itself.
var cp1252C1 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80–87
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88–8F
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90–97
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98–9F
}

// latin9Diff holds the eight places where ISO 8859-15 differs from 8859-1.
var latin9Diff = [...]struct {
	b byte
	r rune
}{
	{0xA4, 0x20AC}, {0xA6, 0x0160}, {0xA8, 0x0161}, {0xB4, 0x017D},
	{0xB8, 0x017E}, {0xBC, 0x0152}, {0xBD, 0x0153}, {0xBE, 0x0178},
}

// The decoding tables for bytes 0x80–0xFF.
var windows1252, latin9 [128]rune

func init() {
	for i := range windows1252 {
		if i < 32 {
			windows1252[i] = cp1252C1[i]
		} else {
			windows1252[i] = rune(0x80 + i)
		}
	}
	latin9 = windows1252
	for _, d := range latin9Diff {
		latin9[d.b-0x80] = d.r
	}
}

// Encode returns utf8Text, UTF-8, in c. A character c cannot represent, or a
// byte that is not valid UTF-8, becomes '?'. The result is utf8Text itself
// (nothing allocated) when it is pure ASCII, or valid UTF-8 and c is
// CharsetUTF8. Use it to write an answer (an ACK) in the character set
// DecodeCharset returned for the message it answers.
func (c Charset) Encode(utf8Text []byte) []byte {
	first := firstNonASCII(utf8Text)
	if first == len(utf8Text) || (c == CharsetUTF8 && utf8.Valid(utf8Text[first:])) {
		return utf8Text
	}
	out := make([]byte, first, len(utf8Text))
	copy(out, utf8Text[:first])
	return c.AppendString(out, string(utf8Text[first:]))
}

// AppendString appends s, UTF-8, to dst in c, as Encode does.
func (c Charset) AppendString(dst []byte, s string) []byte {
	for i, r := range s {
		if r < utf8.RuneSelf {
			dst = append(dst, byte(r))
			continue
		}
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				dst = append(dst, '?')
				continue
			}
		}
		if c == CharsetUTF8 {
			dst = utf8.AppendRune(dst, r)
		} else {
			dst = append(dst, c.encodeRune(r))
		}
	}
	return dst
}

// encodeRune returns the byte r is in a single-byte c (r >= 0x80), or '?'.
func (c Charset) encodeRune(r rune) byte {
	switch c {
	case CharsetLatin1:
		if r <= 0xFF {
			return byte(r)
		}
	case CharsetLatin9:
		for _, d := range latin9Diff {
			if r == d.r {
				return d.b
			}
			if r == rune(d.b) {
				return '?' // ¤ ¦ ¨ ´ ¸ ¼ ½ ¾ are not in 8859-15
			}
		}
		if r <= 0xFF {
			return byte(r)
		}
	case CharsetWindows1252:
		if r >= 0xA0 && r <= 0xFF {
			return byte(r)
		}
		for i, x := range cp1252C1 {
			if r == x {
				return byte(0x80 + i)
			}
		}
	}
	return '?'
}
