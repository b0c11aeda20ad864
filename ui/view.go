package ui

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Content views for the message page. They only split text into pieces: the template
// escapes every piece, so hostile content stays text.

// contentView is one stage of a message (raw, transformed, encoded, …) ready to show.
type contentView struct {
	Kind     string       // "hl7", "json" or "text"
	Text     string       // json: pretty-printed; text: as is
	Segments []hl7Segment // hl7
	Size     int
}

type hl7Segment struct {
	Name   string
	Fields []hl7Field // from field 1 (MSH: MSH-1 is the field separator itself)
	Sep    string     // the field separator
}

type hl7Field struct {
	NoSep bool   // MSH-1 and MSH-2: no separator before them
	Path  string // PID-5
	Reps  []hl7Rep
	Sep   string // repetition separator shown before each repetition but the first
}

type hl7Rep struct {
	Path  string // PID-5 or PID-3[2]
	Comps []hl7Comp
	Sep   string
}

type hl7Comp struct {
	Path string // PID-5.1
	Subs []hl7Sub
	Sep  string
}

type hl7Sub struct {
	Path string // PID-5.1.2 (only when there are subcomponents)
	Text string
}

// maxRendered bounds the content shown in structured form; larger content is shown as
// plain text (still escaped).
const maxRendered = 512 << 10

// viewContent picks the best way to show content of a data type.
func viewContent(dataType, content string) contentView {
	v := contentView{Kind: "text", Text: content, Size: len(content)}
	if len(content) > maxRendered {
		return v
	}
	trimmed := strings.TrimSpace(content)
	if strings.HasPrefix(trimmed, "MSH") && len(trimmed) > 8 {
		if segs := parseHL7(trimmed); segs != nil {
			v.Kind, v.Segments, v.Text = "hl7", segs, ""
			return v
		}
	}
	if (dataType == "FHIR" || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) && json.Valid([]byte(trimmed)) {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(trimmed), "", "  "); err == nil {
			v.Kind, v.Text = "json", b.String()
		}
	}
	return v
}

// parseHL7 splits ER7 text into segments, fields, repetitions, components and
// subcomponents, with each piece's path. It returns nil when the text does not start
// with a usable MSH segment.
func parseHL7(text string) []hl7Segment {
	if len(text) < 8 || text[:3] != "MSH" {
		return nil
	}
	fs := text[3]
	enc := text[4:]
	if i := strings.IndexByte(enc, fs); i >= 0 {
		enc = enc[:i]
	}
	if len(enc) < 2 {
		return nil
	}
	cs, rs := enc[0], enc[1]
	ss := byte(0)
	if len(enc) >= 4 {
		ss = enc[3]
	}
	if fs == cs || fs == rs || isAlnum(fs) {
		return nil
	}
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\r' || r == '\n' })
	counts := map[string]int{}
	var segs []hl7Segment
	for _, line := range lines {
		parts := strings.Split(line, string(fs))
		name := parts[0]
		counts[name]++
		segName := name
		if counts[name] > 1 {
			segName = name + "[" + strconv.Itoa(counts[name]) + "]"
		}
		seg := hl7Segment{Name: name, Sep: string(fs)}
		fields := parts[1:]
		first := 1
		if name == "MSH" {
			// MSH-1 is the field separator, MSH-2 the encoding characters: both literal.
			seg.Fields = append(seg.Fields, hl7Field{NoSep: true, Path: "MSH-1", Reps: []hl7Rep{{Path: "MSH-1", Comps: []hl7Comp{{Path: "MSH-1", Subs: []hl7Sub{{Path: "MSH-1", Text: string(fs)}}}}}}})
			if len(fields) > 0 {
				seg.Fields = append(seg.Fields, hl7Field{NoSep: true, Path: "MSH-2", Reps: []hl7Rep{{Path: "MSH-2", Comps: []hl7Comp{{Path: "MSH-2", Subs: []hl7Sub{{Path: "MSH-2", Text: fields[0]}}}}}}})
				fields = fields[1:]
			}
			first = 3
		}
		for i, f := range fields {
			fp := segName + "-" + strconv.Itoa(first+i)
			field := hl7Field{Path: fp, Sep: string(rs)}
			reps := strings.Split(f, string(rs))
			for ri, r := range reps {
				rp := fp
				if len(reps) > 1 {
					rp += "[" + strconv.Itoa(ri+1) + "]"
				}
				rep := hl7Rep{Path: rp, Sep: string(cs)}
				for ci, c := range strings.Split(r, string(cs)) {
					cp := rp + "." + strconv.Itoa(ci+1)
					comp := hl7Comp{Path: cp}
					if ss != 0 && strings.IndexByte(c, ss) >= 0 {
						comp.Sep = string(ss)
						for si, sub := range strings.Split(c, string(ss)) {
							comp.Subs = append(comp.Subs, hl7Sub{Path: cp + "." + strconv.Itoa(si+1), Text: sub})
						}
					} else {
						comp.Subs = []hl7Sub{{Path: cp, Text: c}}
					}
					rep.Comps = append(rep.Comps, comp)
				}
				field.Reps = append(field.Reps, rep)
			}
			if len(field.Reps) == 1 && len(field.Reps[0].Comps) == 1 && len(field.Reps[0].Comps[0].Subs) == 1 {
				field.Reps[0].Comps[0].Subs[0].Path = fp // a plain field is PID-1, not PID-1.1
			}
			seg.Fields = append(seg.Fields, field)
		}
		segs = append(segs, seg)
	}
	return segs
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// diffLine is one line of a line diff: Op is ' ', '-' (only in a) or '+' (only in b).
type diffLine struct {
	Op    string
	Text  string
	Parts []diffPart // for a changed line paired with its counterpart: which fields changed
}

// diffPart is a piece of a changed line; Changed marks the fields that differ.
type diffPart struct {
	Text    string
	Changed bool
}

// maxDiffCells bounds the diff's table (lines of a × lines of b).
const maxDiffCells = 4_000_000

// diffLines compares two texts line by line (HL7 segments are lines), longest common
// subsequence first. ok is false when the texts are too large to compare.
func diffLines(a, b string) (out []diffLine, ok bool) {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
	}
	x, y := split(a), split(b)
	// Common head and tail need no table.
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	for _, l := range x[:head] {
		out = append(out, diffLine{Op: " ", Text: l})
	}
	mx, my := x[head:len(x)-tail], y[head:len(y)-tail]
	if (len(mx)+1)*(len(my)+1) > maxDiffCells {
		return nil, false
	}
	// lcs[i][j]: LCS length of mx[i:] and my[j:].
	w := len(my) + 1
	lcs := make([]int32, (len(mx)+1)*w)
	for i := len(mx) - 1; i >= 0; i-- {
		for j := len(my) - 1; j >= 0; j-- {
			if mx[i] == my[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(mx) && j < len(my) {
		switch {
		case mx[i] == my[j]:
			out = append(out, diffLine{Op: " ", Text: mx[i]})
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			out = append(out, diffLine{Op: "-", Text: mx[i]})
			i++
		default:
			out = append(out, diffLine{Op: "+", Text: my[j]})
			j++
		}
	}
	for ; i < len(mx); i++ {
		out = append(out, diffLine{Op: "-", Text: mx[i]})
	}
	for ; j < len(my); j++ {
		out = append(out, diffLine{Op: "+", Text: my[j]})
	}
	for _, l := range x[len(x)-tail:] {
		out = append(out, diffLine{Op: " ", Text: l})
	}
	markFields(out)
	return out, true
}

// markFields pairs each run of removed lines with the run of added lines after it, line
// by line, and marks the |-separated fields that differ (for HL7v2 segments: which
// fields the transform changed).
func markFields(lines []diffLine) {
	for i := 0; i < len(lines); {
		if lines[i].Op != "-" {
			i++
			continue
		}
		d := i
		for d < len(lines) && lines[d].Op == "-" {
			d++
		}
		a := d
		for a < len(lines) && lines[a].Op == "+" {
			a++
		}
		for k := 0; k < d-i && k < a-d; k++ {
			lines[i+k].Parts, lines[d+k].Parts = fieldDiff(lines[i+k].Text, lines[d+k].Text)
		}
		i = a
	}
}

func fieldDiff(a, b string) (pa, pb []diffPart) {
	fa, fb := strings.Split(a, "|"), strings.Split(b, "|")
	if len(fa) < 2 || len(fb) < 2 {
		return nil, nil
	}
	parts := func(f, other []string) []diffPart {
		var out []diffPart
		for i, s := range f {
			if i > 0 {
				out = append(out, diffPart{Text: "|"})
			}
			out = append(out, diffPart{Text: s, Changed: i >= len(other) || other[i] != s})
		}
		return out
	}
	return parts(fa, fb), parts(fb, fa)
}
