package hl7tofhir

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/hl7/h230"
	"github.com/kardianos/hl7/h231"
	"github.com/kardianos/hl7/h240"
	"github.com/kardianos/hl7/h250"
	"github.com/kardianos/hl7/h251"
	"github.com/kardianos/hl7/h260"
	"github.com/kardianos/hl7/h270"
	"github.com/kardianos/hl7/h271"
	"github.com/kardianos/hl7/h280"
)

// Version awareness comes from kardianos/hl7's generated per-version
// definitions: its segment structs say, for each version, which data type a
// field has (so a DT field such as CX-7 rejects a time, while PID-7 is TS in
// v2.3-v2.5.1 and DTM in v2.8), its registry says which data types exist (so
// OBX-2 "CWE" in a v2.3 message is reported, CWE arriving in v2.5), and its
// tables list each version's codes for error messages.
//
// Fields are read with Junction's own hl7 tree, not kardianos' decoder: the
// tree is lazy and allocation-free, keeps the v2 null "" distinct from an
// empty field (the decoder cannot), and does not reject a whole message when
// one field has a component its version's struct does not expect.

type table struct {
	codes []string // sorted
}

// versionSpec is one HL7 version's definitions.
type versionSpec struct {
	name      string
	segments  map[string]any // kardianos' SegmentRegistry
	dataTypes map[string]any // kardianos' DataTypeRegistry
	tables    func(id string) (table, bool)
	fieldsMu  sync.Mutex
	segFields map[string]map[int]fieldSpec
}

// fieldSpec is what a version says of one segment field.
type fieldSpec struct {
	dataType string // "TS", "CX", ...; "" for date/time types (time.Time in kardianos)
	isTime   bool   // DT, TS or DTM
	dateOnly bool   // DT: no time of day allowed
	table    string // "0001"
}

func tableFunc[R any](lookup map[string]R, rows func(R) []string) func(string) (table, bool) {
	return func(id string) (table, bool) {
		t, ok := lookup[id]
		if !ok {
			return table{}, false
		}
		codes := rows(t)
		sort.Strings(codes)
		return table{codes: codes}, true
	}
}

func rowIDs[T any](rows []T, id func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}

var versions = map[string]*versionSpec{
	"2.3":   {name: "2.3", segments: h230.SegmentRegistry, dataTypes: h230.DataTypeRegistry, tables: tableFunc(h230.TableLookup, func(t h230.Table) []string { return rowIDs(t.Row, func(r h230.Row) string { return r.ID }) })},
	"2.3.1": {name: "2.3.1", segments: h231.SegmentRegistry, dataTypes: h231.DataTypeRegistry, tables: tableFunc(h231.TableLookup, func(t h231.Table) []string { return rowIDs(t.Row, func(r h231.Row) string { return r.ID }) })},
	"2.4":   {name: "2.4", segments: h240.SegmentRegistry, dataTypes: h240.DataTypeRegistry, tables: tableFunc(h240.TableLookup, func(t h240.Table) []string { return rowIDs(t.Row, func(r h240.Row) string { return r.ID }) })},
	"2.5":   {name: "2.5", segments: h250.SegmentRegistry, dataTypes: h250.DataTypeRegistry, tables: tableFunc(h250.TableLookup, func(t h250.Table) []string { return rowIDs(t.Row, func(r h250.Row) string { return r.ID }) })},
	"2.5.1": {name: "2.5.1", segments: h251.SegmentRegistry, dataTypes: h251.DataTypeRegistry, tables: tableFunc(h251.TableLookup, func(t h251.Table) []string { return rowIDs(t.Row, func(r h251.Row) string { return r.ID }) })},
	"2.6":   {name: "2.6", segments: h260.SegmentRegistry, dataTypes: h260.DataTypeRegistry, tables: tableFunc(h260.TableLookup, func(t h260.Table) []string { return rowIDs(t.Row, func(r h260.Row) string { return r.ID }) })},
	"2.7":   {name: "2.7", segments: h270.SegmentRegistry, dataTypes: h270.DataTypeRegistry, tables: tableFunc(h270.TableLookup, func(t h270.Table) []string { return rowIDs(t.Row, func(r h270.Row) string { return r.ID }) })},
	"2.7.1": {name: "2.7.1", segments: h271.SegmentRegistry, dataTypes: h271.DataTypeRegistry, tables: tableFunc(h271.TableLookup, func(t h271.Table) []string { return rowIDs(t.Row, func(r h271.Row) string { return r.ID }) })},
	"2.8":   {name: "2.8", segments: h280.SegmentRegistry, dataTypes: h280.DataTypeRegistry, tables: tableFunc(h280.TableLookup, func(t h280.Table) []string { return rowIDs(t.Row, func(r h280.Row) string { return r.ID }) })},
}

// supportedVersions lists the MSH-12 values Convert accepts, for errors.
func supportedVersions() string {
	names := make([]string, 0, len(versions))
	for v := range versions {
		names = append(names, v)
	}
	sort.Slice(names, func(i, j int) bool { return versionLess(names[i], names[j]) })
	return strings.Join(names, ", ")
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// hasDataType reports whether the version defines data type dt.
func (v *versionSpec) hasDataType(dt string) bool {
	switch dt {
	case "TS", "DT", "DTM", "ST", "TX", "FT", "NM", "ID", "IS", "SI", "TM":
		// Primitive types (kardianos aliases them to Go types) exist in
		// every supported version, except DTM (v2.5+).
		return dt != "DTM" || !versionLess(v.name, "2.5")
	}
	_, ok := v.dataTypes[dt]
	return ok
}

var timeType = reflect.TypeOf(time.Time{})

// field returns what the version says of segment field n.
func (v *versionSpec) field(segment string, n int) (fieldSpec, bool) {
	v.fieldsMu.Lock()
	defer v.fieldsMu.Unlock()
	if v.segFields == nil {
		v.segFields = map[string]map[int]fieldSpec{}
	}
	fields, ok := v.segFields[segment]
	if !ok {
		fields = v.loadSegment(segment)
		v.segFields[segment] = fields
	}
	f, ok := fields[n]
	return f, ok
}

// loadSegment reads a segment struct's hl7 tags, e.g.
// `hl7:"7,len=26,format=YMDHMS,display=Date/Time of Birth"`.
func (v *versionSpec) loadSegment(segment string) map[int]fieldSpec {
	fields := map[int]fieldSpec{}
	s, ok := v.segments[segment]
	if !ok {
		return fields
	}
	rt := reflect.TypeOf(s)
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		parts := strings.Split(sf.Tag.Get("hl7"), ",")
		n, err := strconv.Atoi(parts[0])
		if err != nil {
			continue // the HL7 name field has no position
		}
		ft := sf.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		spec := fieldSpec{dataType: ft.Name(), isTime: ft == timeType}
		if spec.isTime {
			spec.dataType = ""
		}
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(p, "=")
			switch k {
			case "format":
				spec.dateOnly = spec.isTime && val == "YMD"
			case "table":
				spec.table = val
			}
		}
		fields[n] = spec
	}
	return fields
}

// tableCodes lists a version's codes for table id, for error messages.
func (v *versionSpec) tableCodes(id string) string {
	t, ok := v.tables(id)
	if !ok || len(t.codes) == 0 {
		return ""
	}
	return strings.Join(t.codes, ", ")
}

// nearestVersion is the version a message labelled v (not one of versions)
// is read as: the highest supported version not above it ("2.9" and "3" are
// read as 2.8, "2.5.2" as 2.5.1), the lowest for anything below (2.1, 2.2 as
// 2.3), and 2.5.1, the most used, when v names no version ("", "X").
func nearestVersion(v string) *versionSpec {
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "V"), "v")
	if spec, ok := versions[v]; ok {
		return spec
	}
	parts := strings.Split(v, ".")
	for i, p := range parts {
		if !allDigits(p) {
			parts = parts[:i]
			break
		}
	}
	if len(parts) == 0 {
		return versions["2.5.1"]
	}
	v = strings.Join(parts, ".")
	var best *versionSpec
	lowest := versions["2.3"]
	for name, spec := range versions {
		if !versionLess(v, name) && (best == nil || versionLess(best.name, name)) {
			best = spec
		}
	}
	if best == nil {
		return lowest
	}
	return best
}
