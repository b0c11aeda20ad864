package hl7

import (
	"fmt"
	"strconv"
)

// maxIndex bounds every number in a path, so a mistyped or hostile path such
// as "PID-99999999" cannot make Set pad a segment with millions of separators.
const maxIndex = 99999

// Path addresses an element of a message, e.g. "PID-3[2].1" or "OBX[2]-5".
// All indexes are 1-based; 0 means "not given":
//
//   - SegmentRep 0 is the first occurrence of the segment.
//   - FieldRep 0 is the first repetition of the field.
//   - Component 0 addresses the whole repetition, Subcomponent 0 the whole
//     component.
//
// Field is required. Build a Path once with ParsePath (or MustParsePath) and
// reuse it with GetPath/SetPath to avoid parsing on every message.
type Path struct {
	Segment      string
	SegmentRep   int
	Field        int
	FieldRep     int
	Component    int
	Subcomponent int
}

// ParsePath parses the documented form SEG[n]-F[n].C.S, where only SEG and F
// are required: "PID-5", "PID-5.1", "PID-5.1.2", "PID-3[2].1", "OBX[2]-5".
func ParsePath(s string) (Path, error) {
	var p Path
	if len(s) < 3 || !isSegmentName(s[:3]) {
		return Path{}, pathError(s, "expected a 3-character segment name (A-Z, 0-9) at the start")
	}
	p.Segment = s[:3]
	i := 3
	var err error
	if i < len(s) && s[i] == '[' {
		if p.SegmentRep, i, err = parseBracket(s, i, "segment repetition"); err != nil {
			return Path{}, err
		}
	}
	if i == len(s) {
		return Path{}, pathError(s, `expected "-" and a field number after the segment name`)
	}
	if s[i] != '-' {
		return Path{}, pathError(s, fmt.Sprintf(`expected "-" after %q, got %q`, s[:i], s[i:]))
	}
	i++
	if p.Field, i, err = parseNumber(s, i, "field", `after "-"`); err != nil {
		return Path{}, err
	}
	if i < len(s) && s[i] == '[' {
		if p.FieldRep, i, err = parseBracket(s, i, "field repetition"); err != nil {
			return Path{}, err
		}
	}
	if i < len(s) && s[i] == '.' {
		if p.Component, i, err = parseNumber(s, i+1, "component", `after "."`); err != nil {
			return Path{}, err
		}
		if i < len(s) && s[i] == '.' {
			if p.Subcomponent, i, err = parseNumber(s, i+1, "subcomponent", `after "."`); err != nil {
				return Path{}, err
			}
		}
	}
	if i != len(s) {
		return Path{}, pathError(s, fmt.Sprintf("unexpected %q after %q", s[i:], s[:i]))
	}
	return p, nil
}

// MustParsePath is ParsePath for package-level paths known to be valid; it
// panics on error.
func MustParsePath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String formats p in the form ParsePath accepts.
func (p Path) String() string {
	b := make([]byte, 0, 24)
	b = append(b, p.Segment...)
	if p.SegmentRep > 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(p.SegmentRep), 10)
		b = append(b, ']')
	}
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(p.Field), 10)
	if p.FieldRep > 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(p.FieldRep), 10)
		b = append(b, ']')
	}
	if p.Component > 0 || p.Subcomponent > 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(max(p.Component, 1)), 10)
	}
	if p.Subcomponent > 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(p.Subcomponent), 10)
	}
	return string(b)
}

// valid reports whether check would pass, without building an error.
func (p Path) valid() bool {
	if !isSegmentName(p.Segment) || p.Field < 1 {
		return false
	}
	for _, n := range [...]int{p.SegmentRep, p.Field, p.FieldRep, p.Component, p.Subcomponent} {
		if n < 0 || n > maxIndex {
			return false
		}
	}
	return true
}

// check validates a Path built by hand; ParsePath never returns an invalid one.
func (p Path) check() error {
	if p.valid() {
		return nil
	}
	if !isSegmentName(p.Segment) {
		return fmt.Errorf("path %q: expected a 3-character segment name (A-Z, 0-9), got %q", p.String(), p.Segment)
	}
	if p.Field < 1 {
		return fmt.Errorf("path %q: expected a field number of 1 or more", p.String())
	}
	for _, n := range [...]int{p.SegmentRep, p.Field, p.FieldRep, p.Component, p.Subcomponent} {
		if n < 0 || n > maxIndex {
			return fmt.Errorf("path %q: expected indexes between 1 and %d", p.String(), maxIndex)
		}
	}
	return nil
}

// parseBracket parses "[n]" starting at s[i] == '['.
func parseBracket(s string, i int, what string) (int, int, error) {
	n, j, err := parseNumber(s, i+1, what, `after "["`)
	if err != nil {
		return 0, 0, err
	}
	if j == len(s) || s[j] != ']' {
		return 0, 0, pathError(s, fmt.Sprintf(`expected "]" after the %s number`, what))
	}
	return n, j + 1, nil
}

// parseNumber parses a 1-based decimal index at s[i:].
func parseNumber(s string, i int, what, where string) (int, int, error) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, 0, pathError(s, fmt.Sprintf("expected a %s number %s", what, where))
	}
	if j-i > 5 {
		return 0, 0, pathError(s, fmt.Sprintf("%s number %s is too large (max %d)", what, s[i:j], maxIndex))
	}
	n, _ := strconv.Atoi(s[i:j]) // at most 5 digits, cannot fail
	if n == 0 {
		return 0, 0, pathError(s, fmt.Sprintf("%s number must be 1 or more (indexes are 1-based)", what))
	}
	return n, j, nil
}

func pathError(path, msg string) error {
	return fmt.Errorf("path %q: %s", path, msg)
}

// isSegmentName reports whether s is 3 uppercase letters or digits.
func isSegmentName(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
