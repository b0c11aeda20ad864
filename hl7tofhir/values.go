package hl7tofhir

import (
	"encoding/json"
	"strings"
)

// timeAt parses a date/time element; an empty element is the zero v2Time
// (prec 0). dateOnly is the caller's expectation for a component (CX-7 is
// a DT); for a whole field the message's version decides, from
// kardianos/hl7's definitions: a DT field rejects a time of day.
//
// A time of day in a date field (a fault of real feeds whose meaning is
// not in doubt) is read as its date, with a warning. Spaces around the
// value are ignored.
func (c *conv) timeAt(s seg, field, rep, comp int, dateOnly bool) (v2Time, error) {
	v := strings.TrimSpace(s.get(field, rep, comp))
	if v == "" {
		return v2Time{}, nil
	}
	if comp == 1 {
		if f, ok := c.spec.field(s.name, field); ok && f.isTime {
			dateOnly = f.dateOnly
		}
	}
	t, ok := parseV2Time(v, dateOnly)
	if ok {
		return t, nil
	}
	at := s.at(field, rep, comp)
	if comp == 1 {
		at = s.at(field, rep, 0) // the DTM of a TS is the field itself
	}
	if t, ok := parseV2Time(v, false); ok && dateOnly && t.hasTime() {
		c.warnf(at, v, "has a time of day in a date field: read as its date", dateFormat)
		return v2Time{year: t.year, month: t.month, day: t.day, prec: precDay}, nil
	}
	if dateOnly || len(v) <= 8 {
		return t, fieldErr(at, v, "is not a valid date", dateFormat)
	}
	return t, fieldErr(at, v, "is not a valid date/time", dateTimeFormat)
}

// dateTimeAt is timeAt rendered as a FHIR dateTime ("" when empty).
func (c *conv) dateTimeAt(s seg, field, rep, comp int) (string, error) {
	t, err := c.timeAt(s, field, rep, comp, false)
	if err != nil || t.prec == 0 {
		return "", err
	}
	return t.dateTime(c.opts.TimeZone), nil
}

// dateAt is timeAt rendered as a FHIR date, for DT components.
func (c *conv) dateAt(s seg, field, rep, comp int) (string, error) {
	t, err := c.timeAt(s, field, rep, comp, true)
	if err != nil || t.prec == 0 {
		return "", err
	}
	return t.date(), nil
}

// decimal converts a v2 NM to a JSON number, keeping its precision ("72.50"
// stays 72.50). v2 allows a leading + and leading zeros, JSON does not.
func decimal(v string) (json.Number, bool) {
	s := strings.TrimSpace(v)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, fracPart, hasDot := strings.Cut(s, ".")
	if (intPart == "" && fracPart == "") || (intPart != "" && !allDigits(intPart)) || (fracPart != "" && !allDigits(fracPart)) {
		return "", false
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasDot && fracPart != "" {
		out += "." + fracPart
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return json.Number(out), true
}

// numberAt parses an NM element ("" when empty).
func numberAt(s seg, field, rep, comp int) (json.Number, error) {
	v := s.get(field, rep, comp)
	if v == "" {
		return "", nil
	}
	n, ok := decimal(v)
	if !ok {
		at := s.at(field, rep, comp)
		if comp == 1 {
			at = s.at(field, rep, 0)
		}
		return "", fieldErr(at, v, "is not a valid NM number", "a decimal such as 72.5")
	}
	return n, nil
}

// yesNo maps a v2 Y/N indicator (table 0136).
func yesNo(s seg, field int) (value, ok bool, err error) {
	switch v := strings.ToUpper(s.get(field, 1, 1)); v {
	case "":
		return false, false, nil
	case "Y":
		return true, true, nil
	case "N":
		return false, true, nil
	default:
		return false, false, fieldErr(s.at(field, 1, 0), v, "is not a yes/no indicator", "Y or N (HL7 table 0136)")
	}
}
