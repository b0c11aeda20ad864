// Package hl7 is a lazy, byte-faithful tree over ER7 (pipe-delimited HL7v2)
// messages: path get/set, HL7 escaping and ACK building.
//
// It is on the hot path of every message, so Parse only records where each
// segment is; fields, repetitions and components are located by scanning the
// segment text when a path touches them, and nothing is split. Segments that
// are never Set are written back byte-for-byte by Bytes; a Set rewrites only
// the segment it touches. Get returns substrings of the parsed message and
// does not allocate unless the value has escape sequences.
//
// Every operation is linear in the size of what it touches: a segment is
// found by occurrence ("OBX[5000]") through an index of segment names built
// on the first such lookup in a long message, so reading every OBX of a
// message is linear in the message, not quadratic. A caller that reads many
// elements of one segment (a converter) uses SegmentAt, which locates the
// segment's fields once, and each field's repetitions when first asked.
//
// A Message is not safe for concurrent use when one goroutine calls Set;
// concurrent Gets are fine.
package hl7

import (
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Delimiters are the message's separators, from MSH-1 and MSH-2.
type Delimiters struct {
	Field, Component, Repetition, Escape, Subcomponent byte
	Truncation                                         byte // 0 if absent (v2.7 '#')
}

// DefaultDelimiters are the usual |^~\& (no truncation character).
var DefaultDelimiters = Delimiters{'|', '^', '~', '\\', '&', 0}

// Message is a parsed ER7 message.
type Message struct {
	delims Delimiters
	// segs holds each segment's text without its terminator. Segments not
	// yet Set are substrings of one copy of the input.
	segs []string
	// index locates segments by name and occurrence in long messages; nil
	// until a lookup needs it (see find).
	index atomic.Pointer[segIndex]
}

// ParseError is returned by Parse. Error() leads with "PID-3: " when a field
// is known, otherwise "segment 3: " (the 1-based segment index).
type ParseError struct {
	Segment  string
	SegIndex int
	Field    int
	Msg      string
}

func (e *ParseError) Error() string {
	switch {
	case e.Segment != "" && e.Field > 0:
		return fmt.Sprintf("%s-%d: %s", e.Segment, e.Field, e.Msg)
	case e.SegIndex > 0:
		return fmt.Sprintf("segment %d: %s", e.SegIndex, e.Msg)
	case e.Segment != "":
		return e.Segment + ": " + e.Msg
	}
	return e.Msg
}

// Parse reads an ER7 message. Segments may end with CR, LF or CRLF (even
// mixed); blank lines are skipped, and a leading UTF-8 BOM and MLLP framing
// (0x0B ... 0x1C 0x0D) are stripped. Parse validates MSH-1, MSH-2 and every
// segment name, and nothing else: required fields such as MSH-9 and MSH-10
// are for the caller to check (see Header).
//
// The message keeps its own copy of raw, which the caller may then reuse.
func Parse(raw []byte) (*Message, error) {
	return parse(string(raw))
}

// ParseString is Parse without the copy: the message's segments are
// substrings of raw. Use it when raw is already a string, or when the caller
// holds bytes that nothing modifies while the message is in use (converted
// with unsafe.String), to keep one copy of a large message instead of two.
func ParseString(raw string) (*Message, error) {
	return parse(raw)
}

func parse(raw string) (*Message, error) {
	for {
		if len(raw) > 0 && raw[0] == 0x0B {
			raw = raw[1:]
		} else if len(raw) >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF {
			raw = raw[3:]
		} else {
			break
		}
	}
	// Every untouched segment is a substring of the input.
	src := raw
	lines := max(strings.Count(src, "\r"), strings.Count(src, "\n")) + 1
	m := &Message{segs: make([]string, 0, lines)}

	// Track the next CR and next LF separately so each is found with a
	// fast IndexByte; a CRLF pair yields an empty line, which is skipped.
	nextCR, nextLF := -1, -1
	for pos := 0; pos < len(src); {
		if nextCR < pos {
			nextCR = indexFrom(src, pos, '\r')
		}
		if nextLF < pos {
			nextLF = indexFrom(src, pos, '\n')
		}
		end := min(nextCR, nextLF)
		if line := src[pos:end]; !isBlank(line) {
			m.segs = append(m.segs, line)
		}
		pos = end + 1
	}
	if len(m.segs) == 0 {
		return nil, &ParseError{Msg: `empty message: expected a message starting with "MSH"`}
	}
	// An MLLP end block may follow the last segment without a CR.
	last := len(m.segs) - 1
	m.segs[last] = strings.TrimRight(m.segs[last], "\x1c")

	msh := m.segs[0]
	if !strings.HasPrefix(msh, "MSH") {
		return nil, &ParseError{SegIndex: 1, Msg: fmt.Sprintf(`expected a message starting with "MSH", got %q`, snippet(msh, '|'))}
	}
	d, err := parseDelimiters(msh)
	if err != nil {
		return nil, err
	}
	m.delims = d
	for i, seg := range m.segs[1:] {
		if len(seg) < 3 || !isSegmentName(seg[:3]) || (len(seg) > 3 && seg[3] != d.Field) {
			return nil, &ParseError{SegIndex: i + 2, Msg: fmt.Sprintf("expected a 3-character segment name, got %q", snippet(seg, d.Field))}
		}
	}
	return m, nil
}

// parseDelimiters reads MSH-1 and MSH-2 from the MSH segment text.
func parseDelimiters(msh string) (Delimiters, error) {
	if len(msh) < 4 || !isDelimiter(msh[3]) {
		return Delimiters{}, &ParseError{Segment: "MSH", SegIndex: 1, Field: 1,
			Msg: fmt.Sprintf(`expected a field separator after "MSH" (e.g. |), got %q`, msh[3:min(len(msh), 4)])}
	}
	fs := msh[3]
	enc := msh[4:]
	if i := strings.IndexByte(enc, fs); i >= 0 {
		enc = enc[:i]
	}
	ok := len(enc) == 4 || len(enc) == 5
	for i := 0; ok && i < len(enc); i++ {
		ok = isDelimiter(enc[i]) && enc[i] != fs && strings.IndexByte(enc[i+1:], enc[i]) < 0
	}
	if !ok {
		return Delimiters{}, &ParseError{Segment: "MSH", SegIndex: 1, Field: 2,
			Msg: fmt.Sprintf(`expected 4 encoding characters (e.g. ^~\&), got %q`, enc)}
	}
	d := Delimiters{Field: fs, Component: enc[0], Repetition: enc[1], Escape: enc[2], Subcomponent: enc[3]}
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	return d, nil
}

// isDelimiter allows printable ASCII punctuation only, so a delimiter can
// never be part of a multi-byte UTF-8 character or of a segment name.
func isDelimiter(c byte) bool {
	return c > ' ' && c < 0x7F &&
		(c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z')
}

// isBlank reports whether a line holds only spaces, tabs or MLLP framing bytes.
func isBlank(line string) bool {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t', 0x0B, 0x1C:
		default:
			return false
		}
	}
	return true
}

// indexFrom returns the index of c in s at or after from, or len(s).
func indexFrom(s string, from int, c byte) int {
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return len(s)
}

// snippet is the start of a segment for error messages: up to the first field
// separator, at most 20 bytes, cut on a UTF-8 boundary.
func snippet(seg string, fs byte) string {
	if i := strings.IndexByte(seg, fs); i >= 0 {
		seg = seg[:i]
	}
	if len(seg) > 20 {
		n := 20
		for n > 0 && !utf8.RuneStart(seg[n]) {
			n--
		}
		seg = seg[:n]
	}
	return seg
}

// Delims returns the message's delimiters.
func (m *Message) Delims() Delimiters { return m.delims }

// Segments returns the segment names in order.
func (m *Message) Segments() []string {
	names := make([]string, len(m.segs))
	for i, s := range m.segs {
		names[i] = s[:3]
	}
	return names
}

// Count returns how many times segment occurs.
func (m *Message) Count(segment string) int {
	if x := m.indexed(); x != nil {
		return len(x.pos[segment])
	}
	n := 0
	for _, s := range m.segs {
		if s[:3] == segment {
			n++
		}
	}
	return n
}

// find returns the index in m.segs of occurrence rep (1-based) of segment,
// or -1 and the number of occurrences. Long messages use the index, so
// reading OBX[1] to OBX[n] in turn is linear in n rather than quadratic.
func (m *Message) find(segment string, rep int) (idx, count int) {
	if x := m.indexed(); x != nil {
		pos := x.pos[segment]
		if rep >= 1 && rep <= len(pos) {
			return int(pos[rep-1]), rep
		}
		return -1, len(pos)
	}
	for i, s := range m.segs {
		if s[:3] == segment {
			count++
			if count == rep {
				work(i + 1)
				return i, count
			}
		}
	}
	work(len(m.segs))
	return -1, count
}

// Bytes serialises the message, each segment terminated by CR.
func (m *Message) Bytes() []byte {
	n := 0
	for _, s := range m.segs {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for _, s := range m.segs {
		b = append(b, s...)
		b = append(b, '\r')
	}
	return b
}

var (
	pathMSH9  = MustParsePath("MSH-9.1")
	pathMSH92 = MustParsePath("MSH-9.2")
	pathMSH10 = MustParsePath("MSH-10")
	pathMSH12 = MustParsePath("MSH-12.1")
)

// Header returns MSH-9.1 (message type, e.g. "ADT"), MSH-9.2 (trigger event,
// e.g. "A01"), MSH-10 (control ID) and MSH-12.1 (version, e.g. "2.4"). Any of
// them may be empty; whether that is an error is for the caller to decide.
func (m *Message) Header() (msgType, trigger, controlID, version string) {
	return m.GetPath(pathMSH9), m.GetPath(pathMSH92), m.GetPath(pathMSH10), m.GetPath(pathMSH12)
}

// Get returns the value at path (see ParsePath and GetPath). The error is
// only ever a path syntax error.
func (m *Message) Get(path string) (string, error) {
	p, err := ParsePath(path)
	if err != nil {
		return "", err
	}
	return m.GetPath(p), nil
}

// GetPath returns the value at p:
//
//   - A missing segment, field, repetition or component reads as "".
//   - A leaf value is unescaped (\S\ becomes ^, \XC3A1\ becomes á, ...).
//   - If the element still has structure (Get("PID-5") on SMITH^JOHN, or a
//     component with subcomponents), its ER7 text is returned as it is,
//     escapes included: decoding it would make the separators ambiguous.
//   - "PID-5" is the first repetition of PID-5; use "PID-5[2]" for the next.
//   - The HL7 null "" is returned as the two characters "".
//   - MSH-1 is the field separator and MSH-2 the encoding characters, both
//     returned as they are.
//
// An invalid hand-built Path reads as "".
func (m *Message) GetPath(p Path) string {
	v, leaf := m.element(p)
	if leaf {
		return Unescape(v, m.delims)
	}
	return v
}

// GetRaw returns the ER7 text at path exactly as it is in the message, never
// unescaped. Copy an element between messages that share delimiters with
// GetRaw and SetRaw: Get then SetRaw would lose the escaping of a leaf value,
// and Get then Set would escape the separators of a structured one.
func (m *Message) GetRaw(path string) (string, error) {
	p, err := ParsePath(path)
	if err != nil {
		return "", err
	}
	return m.GetRawPath(p), nil
}

// GetRawPath is GetRaw with a precompiled path.
func (m *Message) GetRawPath(p Path) string {
	v, _ := m.element(p)
	return v
}

// element returns the ER7 text at p ("" if missing) and whether it is a leaf
// to be unescaped, i.e. has no deeper structure.
func (m *Message) element(p Path) (v string, leaf bool) {
	if !p.valid() {
		return "", false
	}
	i, _ := m.find(p.Segment, max(p.SegmentRep, 1))
	if i < 0 {
		return "", false
	}
	seg := m.segs[i]
	if p.Segment == "MSH" && p.Field <= 2 {
		return mshDelimiterField(seg, p), false
	}
	lo, hi, _, _, found := m.locate(seg, p)
	if !found {
		return "", false
	}
	v = seg[lo:hi]
	return v, isLeaf(v, p, m.delims)
}

// isLeaf reports whether the element v that p addresses has no deeper
// structure, so that GetPath unescapes it.
func isLeaf(v string, p Path, d Delimiters) bool {
	switch {
	case p.Subcomponent > 0:
		return true
	case p.Component > 0:
		return strings.IndexByte(v, d.Subcomponent) < 0
	}
	return strings.IndexByte(v, d.Component) < 0 && strings.IndexByte(v, d.Subcomponent) < 0
}

// mshDelimiterField returns MSH-1 or MSH-2, which are never split or unescaped.
func mshDelimiterField(msh string, p Path) string {
	if p.FieldRep > 1 || p.Component > 1 || p.Subcomponent > 1 || len(msh) < 4 {
		return ""
	}
	if p.Field == 1 {
		return msh[3:4]
	}
	enc := msh[4:]
	if i := strings.IndexByte(enc, msh[3]); i >= 0 {
		enc = enc[:i]
	}
	return enc
}

// levels returns, for each level p addresses (field, repetition, component,
// subcomponent), its separator and the 0-based index of the piece wanted.
func (m *Message) levels(p Path) (seps [4]byte, idx [4]int, depth int) {
	return levelsOf(m.delims, p)
}

func levelsOf(d Delimiters, p Path) (seps [4]byte, idx [4]int, depth int) {
	seps = [4]byte{d.Field, d.Repetition, d.Component, d.Subcomponent}
	field := p.Field
	if p.Segment == "MSH" {
		field-- // MSH-1 is the separator itself, so MSH-2 is the first piece after "MSH"
	}
	idx = [4]int{field, max(p.FieldRep, 1) - 1, max(p.Component, 1) - 1, p.Subcomponent - 1}
	depth = 2
	if p.Component > 0 || p.Subcomponent > 0 {
		depth = 3
	}
	if p.Subcomponent > 0 {
		depth = 4
	}
	return seps, idx, depth
}

// locate finds the element p addresses in seg. If found, seg[lo:hi] is the
// element. If not, level is the first level that is missing, seg[lo:hi] is
// the enclosing element and have is how many pieces it has at that level.
func (m *Message) locate(seg string, p Path) (lo, hi, level, have int, found bool) {
	seps, idx, depth := m.levels(p)
	lo, hi = 0, len(seg)
	for level = 0; level < depth; level++ {
		start, end, n, ok := nth(seg[lo:hi], seps[level], idx[level])
		if !ok {
			return lo, hi, level, n, false
		}
		lo, hi = lo+start, lo+end
	}
	return lo, hi, depth, 0, true
}

// nth locates the n-th (0-based) sep-separated piece of s. If s has fewer
// pieces, ok is false and have is how many it has.
func nth(s string, sep byte, n int) (start, end, have int, ok bool) {
	for i := 0; i < n; i++ {
		j := strings.IndexByte(s[start:], sep)
		if j < 0 {
			work(len(s))
			return 0, 0, i + 1, false
		}
		start += j + 1
	}
	end = len(s)
	if j := strings.IndexByte(s[start:], sep); j >= 0 {
		end = start + j
	}
	work(end)
	return start, end, n + 1, true
}

// RepCount returns the number of repetitions of the field p addresses (only
// Segment, SegmentRep and Field are used): 0 if the field is missing or
// empty. Use it to walk e.g. every identifier in PID-3.
func (m *Message) RepCount(p Path) int {
	p = Path{Segment: p.Segment, SegmentRep: p.SegmentRep, Field: p.Field}
	if !p.valid() {
		return 0
	}
	i, _ := m.find(p.Segment, max(p.SegmentRep, 1))
	if i < 0 {
		return 0
	}
	if p.Segment == "MSH" && p.Field <= 2 {
		return 1
	}
	seps, idx, _ := m.levels(p)
	start, end, _, ok := nth(m.segs[i], seps[0], idx[0])
	if !ok || start == end {
		return 0
	}
	work(end - start)
	return strings.Count(m.segs[i][start:end], string(seps[1])) + 1
}

// Set writes value, escaped (see Escape), at path. See SetPath.
func (m *Message) Set(path, value string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	return m.SetPath(p, value)
}

// SetRaw writes value at path as it is: it is already ER7-encoded and may
// contain component, repetition and subcomponent separators and escapes. It
// may not contain the field separator, CR, LF or MLLP framing bytes, which
// would change the segment structure.
func (m *Message) SetRaw(path, value string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	return m.SetRawPath(p, value)
}

// SetPath writes value, escaped, at p, replacing the addressed element whole:
// SetPath("PID-5", v) replaces the first repetition of PID-5 including all its
// components (other repetitions and fields are kept); use PID-5.1 to change
// only the first component. Whatever is missing is created: fields,
// repetitions and components are padded with separators, and a missing
// segment occurrence is appended to the message (p.SegmentRep must then be
// one more than the segment's count). Setting "" where nothing exists is a
// no-op, so Set never adds empty trailing separators. MSH-1 and MSH-2 cannot
// be set.
func (m *Message) SetPath(p Path, value string) error {
	return m.put(p, Escape(value, m.delims))
}

// SetRawPath is SetRaw with a precompiled path.
func (m *Message) SetRawPath(p Path, value string) error {
	d := m.delims
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case d.Field, '\r', '\n', 0x0B, 0x1C:
			return fmt.Errorf("%s: raw value contains %q at byte %d; expected no field separator, CR, LF or MLLP framing bytes (use Set to escape them)", p, c, i)
		}
	}
	return m.put(p, value)
}

// put writes the already-encoded enc at p.
func (m *Message) put(p Path, enc string) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.Segment == "MSH" && p.Field == 1 {
		return fmt.Errorf("%s: the field separator cannot be set", p)
	}
	if p.Segment == "MSH" && p.Field == 2 {
		return fmt.Errorf("%s: the encoding characters cannot be set", p)
	}
	rep := max(p.SegmentRep, 1)
	i, count := m.find(p.Segment, rep)
	if i < 0 {
		switch {
		case p.Segment == "MSH":
			return fmt.Errorf("%s: expected MSH[1]; a message has one MSH segment", p)
		case rep != count+1:
			return fmt.Errorf("%s: message has %d %s segment(s), so expected %s[%d] at most", p, count, p.Segment, p.Segment, count+1)
		case enc == "":
			return nil
		}
		m.segs = append(m.segs, p.Segment)
		i = len(m.segs) - 1
		m.indexAppended(i)
	}
	m.segs[i] = m.splice(m.segs[i], p, enc)
	return nil
}

// splice returns seg with the element at p replaced by enc, padding with
// separators whatever is missing.
func (m *Message) splice(seg string, p Path, enc string) string {
	lo, hi, level, have, found := m.locate(seg, p)
	if found {
		if seg[lo:hi] == enc {
			return seg
		}
		return seg[:lo] + enc + seg[hi:]
	}
	if enc == "" {
		return seg
	}
	seps, idx, depth := m.levels(p)
	var b strings.Builder
	b.Grow(len(seg) + idx[0] + idx[1] + idx[2] + idx[3] + len(enc))
	b.WriteString(seg[:hi])
	// Pad the first missing level up to the wanted piece, then the deeper
	// levels (which are all empty) up to theirs.
	for k := have - 1; k < idx[level]; k++ {
		b.WriteByte(seps[level])
	}
	for l := level + 1; l < depth; l++ {
		for k := 0; k < idx[l]; k++ {
			b.WriteByte(seps[l])
		}
	}
	b.WriteString(enc)
	b.WriteString(seg[hi:])
	return b.String()
}
