package hl7tofhir

import (
	"fmt"
	"sort"
	"strconv"

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

// sub returns subcomponent sub of component comp, unescaped.
func (s seg) sub(field, rep, comp, sub int) string {
	v := s.v.Get(field, rep, comp, sub)
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
