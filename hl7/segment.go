package hl7

import (
	"math"
	"strings"
)

// workHook, set only by tests (export_test.go), is told how many segments
// or bytes each lookup examines, so tests can assert that reading a message
// is linear in its size by counting work rather than timing it.
var workHook func(units int)

func work(units int) {
	if workHook != nil {
		workHook(units)
	}
}

// indexMin is the number of segments from which find uses the index: below
// it a scan is as quick as a map lookup and builds nothing.
const indexMin = 32

// segIndex lists, for each segment name, the positions in Message.segs of
// its occurrences in order.
type segIndex struct {
	pos map[string][]int32
}

// indexed returns the segment index of a long message, building it on first
// use, or nil for a short one. Concurrent Gets may each build it; they
// store equal indexes, so whichever wins is right. Set (never concurrent
// with anything) keeps it current.
func (m *Message) indexed() *segIndex {
	if len(m.segs) < indexMin {
		return nil
	}
	if x := m.index.Load(); x != nil {
		return x
	}
	x := &segIndex{pos: make(map[string][]int32, 8)}
	work(len(m.segs))
	for i, s := range m.segs {
		x.pos[s[:3]] = append(x.pos[s[:3]], int32(i))
	}
	m.index.Store(x)
	return x
}

// indexAppended records segment i, just appended by a Set, in the index if
// there is one.
func (m *Message) indexAppended(i int) {
	if x := m.index.Load(); x != nil {
		name := m.segs[i][:3]
		x.pos[name] = append(x.pos[name], int32(i))
	}
}

// NumSegments is the number of segments.
func (m *Message) NumSegments() int { return len(m.segs) }

// Len is the size in bytes of the message as Bytes renders it.
func (m *Message) Len() int {
	n := 0
	for _, s := range m.segs {
		n += len(s) + 1
	}
	return n
}

// Segment is one segment of a message, for a caller that reads many of its
// elements (a converter): its fields are located once, on the first read,
// and a field's repetitions on the first read of a repetition after the
// first, so reading every repetition of a field is linear in the field's
// size. Reads return what GetPath and GetRawPath return for the same
// element. A Segment is a snapshot of the segment (a later Set on the
// message does not change it); it is not safe for concurrent use, and its
// methods must be called on one variable (copies do not share the index).
type Segment struct {
	text   string
	delims Delimiters
	fields []int32 // where piece k starts (piece 0 is the name); then len(text)+1
	reps   []repIndex
}

// repIndex is where each repetition of one piece starts, relative to the
// piece, followed by the piece's length + 1.
type repIndex struct {
	piece  int
	starts []int32
}

// SegmentAt returns segment i (0-based, in the order Segments lists them).
// It panics if i is out of range.
func (m *Message) SegmentAt(i int) Segment {
	return Segment{text: m.segs[i], delims: m.delims}
}

// Name is the segment name, e.g. "PID".
func (s *Segment) Name() string { return s.text[:3] }

// Get returns the value of the element at field, rep, comp, sub (1-based; 0
// as in Path means not given) as GetPath does: unescaped if a leaf. Unlike
// a Path, indexes may exceed 99,999, so a field with more repetitions than
// that can still be read whole.
func (s *Segment) Get(field, rep, comp, sub int) string {
	v, leaf := s.element(field, rep, comp, sub)
	if leaf {
		return Unescape(v, s.delims)
	}
	return v
}

// GetRaw returns the ER7 text of the element, escapes kept, as GetRawPath.
func (s *Segment) GetRaw(field, rep, comp, sub int) string {
	v, _ := s.element(field, rep, comp, sub)
	return v
}

// RepCount returns the number of repetitions of field, 0 if it is missing
// or empty, as Message.RepCount.
func (s *Segment) RepCount(field int) int {
	p := Path{Segment: s.Name(), Field: field}
	if field < 1 {
		return 0
	}
	if p.Segment == "MSH" && field <= 2 {
		return 1
	}
	_, idx, _ := levelsOf(s.delims, p)
	lo, hi, ok := s.piece(idx[0])
	if !ok || lo == hi {
		return 0
	}
	j := strings.IndexByte(s.text[lo:hi], s.delims.Repetition)
	if j < 0 {
		work(hi - lo)
		return 1
	}
	work(j + 1)
	if len(s.text) > maxIndexed {
		return strings.Count(s.text[lo:hi], string(rune(s.delims.Repetition))) + 1
	}
	return len(s.repStarts(idx[0], lo, hi)) - 1
}

func (s *Segment) element(field, rep, comp, sub int) (string, bool) {
	p := Path{Segment: s.Name(), Field: field, FieldRep: rep, Component: comp, Subcomponent: sub}
	if field < 1 || rep < 0 || comp < 0 || sub < 0 {
		return "", false
	}
	if p.Segment == "MSH" && field <= 2 {
		return mshDelimiterField(s.text, p), false
	}
	seps, idx, depth := levelsOf(s.delims, p)
	lo, hi, ok := s.piece(idx[0])
	if ok {
		lo, hi, ok = s.repetition(idx[0], lo, hi, idx[1])
	}
	for level := 2; ok && level < depth; level++ {
		var start, end int
		start, end, _, ok = nth(s.text[lo:hi], seps[level], idx[level])
		lo, hi = lo+start, lo+end
	}
	if !ok {
		return "", false
	}
	v := s.text[lo:hi]
	return v, isLeaf(v, p, s.delims)
}

// maxIndexed is the longest segment whose offsets fit the int32 index;
// longer ones (absurd, but possible) are scanned.
const maxIndexed = math.MaxInt32 - 1

// piece locates piece k of the segment (k = field number, one less for MSH).
func (s *Segment) piece(k int) (lo, hi int, ok bool) {
	if len(s.text) > maxIndexed {
		start, end, _, found := nth(s.text, s.delims.Field, k)
		return start, end, found
	}
	if s.fields == nil {
		s.fields = offsets(s.text, s.delims.Field)
	}
	if k+1 >= len(s.fields) {
		return 0, 0, false
	}
	return int(s.fields[k]), int(s.fields[k+1]) - 1, true
}

// repetition locates repetition r (0-based) of piece k, which is s.text[lo:hi].
func (s *Segment) repetition(k, lo, hi, r int) (int, int, bool) {
	if r == 0 || len(s.text) > maxIndexed {
		start, end, _, ok := nth(s.text[lo:hi], s.delims.Repetition, r)
		return lo + start, lo + end, ok
	}
	starts := s.repStarts(k, lo, hi)
	if r+1 >= len(starts) {
		return 0, 0, false
	}
	return lo + int(starts[r]), lo + int(starts[r+1]) - 1, true
}

// repStarts returns the repetition offsets of piece k (s.text[lo:hi]),
// building them on first use.
func (s *Segment) repStarts(k, lo, hi int) []int32 {
	for _, r := range s.reps {
		if r.piece == k {
			return r.starts
		}
	}
	starts := offsets(s.text[lo:hi], s.delims.Repetition)
	s.reps = append(s.reps, repIndex{piece: k, starts: starts})
	return starts
}

// offsets returns where each sep-separated piece of text starts, followed by
// len(text)+1 (so piece k is text[o[k]:o[k+1]-1]).
func offsets(text string, sep byte) []int32 {
	work(len(text))
	o := make([]int32, 1, strings.Count(text, string(rune(sep)))+2)
	for i := 0; ; {
		j := strings.IndexByte(text[i:], sep)
		if j < 0 {
			break
		}
		i += j + 1
		o = append(o, int32(i))
	}
	return append(o, int32(len(text)+1))
}
