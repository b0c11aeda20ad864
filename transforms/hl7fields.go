package transforms

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/kardianos/hl7/h230"
	"github.com/kardianos/hl7/h231"
	"github.com/kardianos/hl7/h240"
	"github.com/kardianos/hl7/h250"
	"github.com/kardianos/hl7/h251"
	"github.com/kardianos/hl7/h260"
	"github.com/kardianos/hl7/h270"
	"github.com/kardianos/hl7/h271"
	"github.com/kardianos/hl7/h280"

	"junction/hl7"
)

// How many fields each standard segment has, per HL7 version, from kardianos/hl7's
// generated per-version definitions (the ones toFHIR reads versions by). A channel does
// not say which version its senders use, so a literal path is impossible when its field
// number is beyond what every version 2.3–2.8 defines for the segment: PID-51 is,
// PID-39 is not (v2.5 added PID-31 to PID-39). Segments no version defines (Z-segments,
// site-specific ones) are not checked.

var segmentVersions = []struct {
	name     string
	segments []map[string]any
}{
	{"2.3", []map[string]any{h230.SegmentRegistry, h230.ControlSegmentRegistry}},
	{"2.3.1", []map[string]any{h231.SegmentRegistry, h231.ControlSegmentRegistry}},
	{"2.4", []map[string]any{h240.SegmentRegistry, h240.ControlSegmentRegistry}},
	{"2.5", []map[string]any{h250.SegmentRegistry, h250.ControlSegmentRegistry}},
	{"2.5.1", []map[string]any{h251.SegmentRegistry, h251.ControlSegmentRegistry}},
	{"2.6", []map[string]any{h260.SegmentRegistry, h260.ControlSegmentRegistry}},
	{"2.7", []map[string]any{h270.SegmentRegistry, h270.ControlSegmentRegistry}},
	{"2.7.1", []map[string]any{h271.SegmentRegistry, h271.ControlSegmentRegistry}},
	{"2.8", []map[string]any{h280.SegmentRegistry, h280.ControlSegmentRegistry}},
}

// segmentMax is the most fields any version gives a segment, the first version that has
// that many, and what the first version defining the segment gave it.
type segmentMax struct {
	fields, firstFields   int
	version, firstVersion string
}

var (
	segmentMaxOnce sync.Once
	segmentMaxes   map[string]segmentMax
)

func segmentFieldCounts() map[string]segmentMax {
	segmentMaxOnce.Do(func() {
		segmentMaxes = map[string]segmentMax{}
		for _, v := range segmentVersions { // oldest first
			for _, reg := range v.segments {
				for name, s := range reg {
					n := fieldCount(reflect.TypeOf(s))
					m, seen := segmentMaxes[name]
					if !seen {
						m.firstFields, m.firstVersion = n, v.name
					}
					if n > m.fields {
						m.fields, m.version = n, v.name
					}
					segmentMaxes[name] = m
				}
			}
		}
	})
	return segmentMaxes
}

// fieldCount is the highest field position of a kardianos segment struct, read from its
// hl7 tags (`hl7:"7,len=26,..."`).
func fieldCount(t reflect.Type) int {
	n := 0
	for i := 0; i < t.NumField(); i++ {
		pos, _, _ := strings.Cut(t.Field(i).Tag.Get("hl7"), ",")
		if p, err := strconv.Atoi(pos); err == nil && p > n {
			n = p
		}
	}
	return n
}

// checkHL7Path checks a literal HL7 path: its syntax, then that the standard segment it
// names has the field.
func checkHL7Path(path string) error {
	p, err := hl7.ParsePath(path)
	if err != nil {
		return err
	}
	m, ok := segmentFieldCounts()[p.Segment]
	if !ok || p.Field <= m.fields {
		return nil
	}
	has := fmt.Sprintf("%d in HL7 v%s", m.fields, m.version)
	if m.firstFields != m.fields {
		has += fmt.Sprintf(", %d in v%s", m.firstFields, m.firstVersion)
	}
	return fmt.Errorf("%s: there is no field %d in %s: %s has at most %d fields (%s; versions 2.3 to 2.8 checked)", path, p.Field, p.Segment, p.Segment, m.fields, has)
}

// looksLikeHL7Path reports whether a literal path is meant as an HL7v2 one (SEG-N or
// SEG[n]-N, SEG three capitals or digits). FHIR element paths never look so: element names
// start with a lower-case letter or are resource types, which hold no '-'.
func looksLikeHL7Path(s string) bool {
	if len(s) < 4 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s[3] == '-' || s[3] == '['
}
