package hl7tofhir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"junction/hl7"
)

// seg reads one occurrence of a segment. Every leaf read goes through get,
// which decodes escapes (hl7.Segment.Get) and turns the v2 null "" into an
// empty value, recording where it was so Result.Nulls can report it. Reads
// go through the segment's own hl7.Segment, which locates its fields once:
// reading a segment costs time in its size, wherever it is in the message.
type seg struct {
	c     *conv
	v     *hl7.Segment
	name  string
	occ   int  // 1-based occurrence among segments with this name
	index int  // 0-based position in the message
	many  bool // the message has more than one segment with this name
}

// label is "PID", or "OBX[3]" when the message has several OBX.
func (s seg) label() string {
	if !s.many {
		return s.name
	}
	return s.name + "[" + strconv.Itoa(s.occ) + "]"
}

// get returns component comp (1-based) of repetition rep of field, as a
// leaf: its first subcomponent, unescaped. comp 1 of a primitive field is
// the field itself.
func (s seg) get(field, rep, comp int) string {
	return s.sub(field, rep, comp, 1)
}

// sub returns subcomponent sub of component comp, unescaped, without the
// spaces and tabs around it (senders pad fixed-width fields: "N ", "F ").
func (s seg) sub(field, rep, comp, sub int) string {
	v := strings.Trim(s.v.Get(field, rep, comp, sub), " \t")
	if v == `""` {
		s.c.null(s, field, rep, comp, sub)
		return ""
	}
	return v
}

// raw is the ER7 text of a field repetition (rep 0 is the first), escapes kept.
func (s seg) raw(field, rep int) string {
	return s.v.GetRaw(field, rep, 0, 0)
}

// has reports whether a field repetition has any content (the null "" counts
// as content: it is recorded when read).
func (s seg) has(field, rep int) bool { return s.raw(field, rep) != "" }

// reps is the number of repetitions of field (0 when empty).
func (s seg) reps(field int) int {
	return s.v.RepCount(field)
}

// at names an element for errors and notes: "PID-7", "PID-3[2].7",
// "OBX[3]-5". Repetition and component are left out when they are the first
// and the field has only one.
func (s seg) at(field, rep, comp int) string {
	p := fmt.Sprintf("%s-%d", s.label(), field)
	if rep > 1 || (rep == 1 && s.reps(field) > 1) {
		p += fmt.Sprintf("[%d]", rep)
	}
	if comp > 0 {
		p += fmt.Sprintf(".%d", comp)
	}
	return p
}

// field is one repetition of a field, for reading a composite data type
// (CX, XPN, ...) the same way wherever it occurs.
type field struct {
	s     seg
	field int
	rep   int
}

func (s seg) field(n, rep int) field { return field{s, n, rep} }

// c returns component n.
func (f field) c(n int) string { return f.s.get(f.field, f.rep, n) }

// sc returns subcomponent k of component n.
func (f field) sc(n, k int) string { return f.s.sub(f.field, f.rep, n, k) }

// at names component n of this field for errors (n 0: the field itself).
func (f field) at(n int) string { return f.s.at(f.field, f.rep, n) }

// empty reports whether the repetition has no content at all.
func (f field) empty() bool { return !f.s.has(f.field, f.rep) }

// segments lists the message's segments with their occurrence numbers, and
// records where each name first occurs (see first). Each gets its own
// hl7.Segment, so a read never searches the message.
func (c *conv) segments() []seg {
	views := make([]hl7.Segment, c.m.NumSegments())
	out := make([]seg, len(views))
	occ := map[string]int{}
	c.firsts = map[string]int{}
	for i := range views {
		views[i] = c.m.SegmentAt(i)
		name := views[i].Name()
		occ[name]++
		if occ[name] == 1 {
			c.firsts[name] = i
		}
		out[i] = seg{c: c, v: &views[i], name: name, occ: occ[name], index: i}
	}
	for i := range out {
		out[i].many = occ[out[i].name] > 1
	}
	return out
}

// null records an element sent as "". When the whole field repetition is
// "" the field is named, otherwise the component.
func (c *conv) null(s seg, field, rep, comp, sub int) {
	at := s.at(field, max(rep, 1), 0)
	if s.raw(field, rep) != `""` {
		at = s.at(field, max(rep, 1), comp)
		if sub > 1 {
			at += fmt.Sprintf(".%d", sub)
		}
	}
	if !c.seenNull[at] {
		c.seenNull[at] = true
		c.nulls = append(c.nulls, nullAt{s.index, field, max(rep, 1), comp, sub, at})
	}
}

// nullAt is where a "" was read; Result.Nulls lists them in message order.
type nullAt struct {
	seg, field, rep, comp, sub int
	at                         string
}

func sortedNulls(ns []nullAt) []string {
	sort.Slice(ns, func(i, j int) bool {
		a, b := ns[i], ns[j]
		for _, d := range [][2]int{{a.seg, b.seg}, {a.field, b.field}, {a.rep, b.rep}, {a.comp, b.comp}, {a.sub, b.sub}} {
			if d[0] != d[1] {
				return d[0] < d[1]
			}
		}
		return false
	})
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.at
	}
	return out
}

// mend rewrites a message the hl7 parser refused into one it takes, when
// the fault is one real feeds have: text before the MSH (left out), lines
// that are not segments (trailing garbage, a field value broken over two
// lines: left out), segments indented with spaces or preceded by control
// bytes such as NUL padding or a stray MLLP block (unindented), segment
// names in lower case (upper-cased), and an
// MSH-2 that is not four distinct encoding characters (^~\\& doubled by a
// program's escaping: duplicates dropped; anything else read as ^~\&).
// Each change is a warning. It fails when there is no MSH at all. One pass,
// so mending is linear in the message's size too.
func mend(raw []byte) ([]byte, []*FieldError, bool) {
	text := strings.NewReplacer("\r\n", "\r", "\n", "\r").Replace(string(raw))
	lines := strings.Split(text, "\r")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(trimLead(l), "MSH") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, nil, false
	}
	var notes []*FieldError
	note := func(path, value, problem, expected string) {
		if len(notes) < maxWarnings {
			notes = append(notes, &FieldError{Path: path, Value: value, Problem: problem, Expected: expected})
		}
	}
	dropped := 0
	for _, l := range lines[:start] {
		if trimLead(l) != "" {
			dropped++
		}
	}
	if dropped > 0 {
		note("message", "", "has text before the MSH segment ("+strconv.Itoa(dropped)+" line(s)), left out", `a message starting with "MSH"`)
	}
	msh, fs := mendMSH(trimLead(lines[start]), note)
	var b strings.Builder
	b.Grow(len(text))
	b.WriteString(msh)
	for i, l := range lines[start+1:] {
		t := trimLead(l)
		switch {
		case strings.Trim(t, " \t\x0b\x1c") == "":
			continue
		case isSegmentLine(t, fs):
			b.WriteByte('\r')
			b.WriteString(t)
		case len(t) >= 3 && isSegmentLine(strings.ToUpper(t[:3])+t[3:], fs):
			name := strings.ToUpper(t[:3])
			note("line "+strconv.Itoa(start+i+2), t[:3], "is a segment name in lower case: read as "+name, "an upper-case segment name")
			b.WriteByte('\r')
			b.WriteString(name)
			b.WriteString(t[3:])
		default:
			v := t
			if len(v) > 20 {
				v = v[:20]
			}
			note("line "+strconv.Itoa(start+i+2), strings.ToValidUTF8(v, "?"), "is not a segment, left out",
				"a 3-character segment name then the field separator")
		}
	}
	b.WriteByte('\r')
	return []byte(b.String()), notes, true
}

// trimLead removes what precedes a segment in real feeds: indentation,
// control bytes (MLLP start and end blocks of concatenated frames, NUL
// padding of fixed-size buffers, a DOS end-of-file) and a byte order mark.
func trimLead(l string) string {
	return strings.TrimLeftFunc(l, func(r rune) bool { return r <= ' ' || r == '\ufeff' || r == 0x7f })
}

// mendMSH returns the MSH line with a usable MSH-2, and its field separator.
func mendMSH(msh string, note func(path, value, problem, expected string)) (string, byte) {
	if len(msh) < 4 || !isPunct(msh[3]) {
		return msh, '|'
	}
	fs := msh[3]
	enc, rest := msh[4:], ""
	if i := strings.IndexByte(enc, fs); i >= 0 {
		enc, rest = enc[:i], enc[i:]
	}
	var seen []byte
	for i := 0; i < len(enc); i++ {
		if isPunct(enc[i]) && enc[i] != fs && strings.IndexByte(string(seen), enc[i]) < 0 {
			seen = append(seen, enc[i])
		}
	}
	fixed := string(seen)
	if len(fixed) < 4 || len(fixed) > 5 {
		fixed = `^~\&`
	}
	if fixed != enc {
		note("MSH-2", enc, "is not 4 distinct encoding characters: read as "+fixed, `component, repetition, escape and subcomponent characters, e.g. ^~\&`)
	}
	return msh[:4] + fixed + rest, fs
}

func isPunct(c byte) bool {
	return c > ' ' && c < 0x7F && (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z')
}

// isSegmentLine reports whether l starts with a segment name (three upper
// case letters or digits, the first a letter) and then fs or nothing.
func isSegmentLine(l string, fs byte) bool {
	if len(l) < 3 || l[0] < 'A' || l[0] > 'Z' {
		return false
	}
	for i := 1; i < 3; i++ {
		if !(l[i] >= 'A' && l[i] <= 'Z') && !isDigit(l[i]) {
			return false
		}
	}
	return len(l) == 3 || l[3] == fs
}
