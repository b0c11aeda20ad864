package fhir

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FHIRPath conversion functions: toX() gives the converted value or empty, convertsToX()
// tells whether toX() would give a value.

type converter func(p item, unit string) (item, bool)

var fpConverters = map[string]converter{
	"Boolean": toBoolean, "Integer": toInteger, "Decimal": toDecimal, "String": toStringItem,
	"Date": toDate, "DateTime": toDateTime, "Time": toTime, "Quantity": toQuantity,
}

func fpConvertFuncs() map[string]fpFunc {
	m := map[string]fpFunc{}
	for name, conv := range fpConverters {
		m["to"+name] = convertFn(conv, false)
		m["convertsTo"+name] = convertFn(conv, true)
	}
	return m
}

func convertFn(conv converter, test bool) fpFunc {
	return func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
		it, ok, err := single(x, in)
		if !ok || err != nil {
			return nil, err
		}
		unit, _, err := e.argString(x, focus, 0)
		if err != nil {
			return nil, err
		}
		p, ok := prim(it)
		var out item
		if ok {
			out, ok = conv(p, unit)
		}
		if test {
			return boolColl(ok), nil
		}
		if !ok {
			return nil, nil
		}
		return []item{out}, nil
	}
}

var (
	reFPInteger  = regexp.MustCompile(`^[+-]?[0-9]+$`)
	reFPDecimal  = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	reFPQuantity = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*(?:'([^']+)'|([a-z]+))?$`)
)

func toBoolean(p item, _ string) (item, bool) {
	switch p.k {
	case kBoolean:
		return p, true
	case kInteger:
		if p.i == 0 || p.i == 1 {
			return boolItem(p.i == 1), true
		}
	case kDecimal:
		if p.f == 0 || p.f == 1 {
			return boolItem(p.f == 1), true
		}
	case kString:
		switch strings.ToLower(p.s) {
		case "true", "t", "yes", "y", "1", "1.0":
			return boolItem(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return boolItem(false), true
		}
	}
	return item{}, false
}

func toInteger(p item, _ string) (item, bool) {
	switch p.k {
	case kInteger:
		return p, true
	case kBoolean:
		if p.b {
			return intItem(1), true
		}
		return intItem(0), true
	case kString:
		if reFPInteger.MatchString(p.s) {
			if i, err := strconv.ParseInt(p.s, 10, 64); err == nil {
				return intItem(i), true
			}
		}
	}
	return item{}, false
}

func toDecimal(p item, _ string) (item, bool) {
	switch p.k {
	case kDecimal:
		return p, true
	case kInteger:
		return item{k: kDecimal, f: float64(p.i), s: strconv.FormatInt(p.i, 10)}, true
	case kBoolean:
		if p.b {
			return item{k: kDecimal, f: 1, s: "1.0"}, true
		}
		return item{k: kDecimal, f: 0, s: "0.0"}, true
	case kString:
		if reFPDecimal.MatchString(p.s) {
			f, err := strconv.ParseFloat(p.s, 64)
			return item{k: kDecimal, f: f, s: strings.TrimPrefix(p.s, "+")}, err == nil
		}
	}
	return item{}, false
}

func toStringItem(p item, _ string) (item, bool) {
	if p.k == kNone || p.k == kTypeInfo {
		return item{}, false
	}
	return strItem(itemString(p)), true
}

func toDate(p item, _ string) (item, bool) {
	switch p.k {
	case kDate:
		return p, true
	case kDateTime:
		t, ok := parseDT(kDateTime, p.s)
		t.kind, t.prec = kDate, min(t.prec, precDay)
		return dtItem(t), ok
	case kString:
		if _, ok := parseDT(kDate, p.s); ok {
			return item{k: kDate, s: p.s}, true
		}
	}
	return item{}, false
}

func toDateTime(p item, _ string) (item, bool) {
	switch p.k {
	case kDateTime:
		return p, true
	case kDate:
		return item{k: kDateTime, s: p.s}, true
	case kString:
		if _, ok := parseDT(kDateTime, p.s); ok {
			return item{k: kDateTime, s: p.s}, true
		}
	}
	return item{}, false
}

func toTime(p item, _ string) (item, bool) {
	switch p.k {
	case kTime:
		return p, true
	case kString:
		if _, ok := parseDT(kTime, p.s); ok && !strings.ContainsAny(p.s, "Z+-") {
			return item{k: kTime, s: p.s}, true
		}
	}
	return item{}, false
}

// toQuantity converts to a quantity, in unit when one is given.
func toQuantity(p item, unit string) (item, bool) {
	var q item
	switch p.k {
	case kQuantity:
		q = p
	case kInteger, kDecimal:
		f, _ := numVal(p)
		q = item{k: kQuantity, f: f, s: itemString(p), unit: "1"}
	case kBoolean:
		q = item{k: kQuantity, f: 0, s: "0.0", unit: "1"}
		if p.b {
			q.f, q.s = 1, "1.0"
		}
	case kString:
		m := reFPQuantity.FindStringSubmatch(strings.TrimSpace(p.s))
		if m == nil || (m[3] != "" && calendarUnits[m[3]] == "") {
			return item{}, false
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		q = item{k: kQuantity, f: f, s: m[1], unit: "1"}
		if m[2] != "" {
			q.unit = m[2]
		} else if m[3] != "" {
			q.unit = m[3]
		}
	default:
		return item{}, false
	}
	if unit == "" || unit == q.unit {
		return q, true
	}
	f1, d1, ok1 := ucumUnit(q.unit)
	f2, d2, ok2 := ucumUnit(unit)
	if !ok1 || !ok2 || d1 != d2 || isCalendarYM(q.unit) != isCalendarYM(unit) {
		return item{}, false
	}
	return quantityItem(q.f*f1/f2, unit), true
}

// itemString is toString(): the text of a System value.
func itemString(p item) string {
	switch p.k {
	case kInteger:
		return strconv.FormatInt(p.i, 10)
	case kDecimal:
		if p.s != "" {
			return p.s
		}
		return formatDecimal(p.f)
	case kBoolean:
		return strconv.FormatBool(p.b)
	case kQuantity:
		return quantityString(p)
	case kTypeInfo:
		return fmt.Sprintf("%s.%s", p.s, p.unit)
	}
	return p.s
}
