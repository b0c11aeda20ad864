package hl7tofhir

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// precision is how much of a v2 date/time was sent: the number of characters
// sent is the precision (v2 chapter 2A, DTM), and FHIR keeps it the same way.
type precision int

const (
	precYear precision = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
)

// v2Time is a parsed DT, TS or DTM value with its precision and zone.
//
// Junction parses dates itself instead of using kardianos/hl7's decoder: that
// decoder turns TS/DT/DTM into time.Time, which loses the precision (1985
// and 19850101 become the same instant), drops fractional seconds and puts a
// zone-less time in UTC. FHIR needs all three kept.
type v2Time struct {
	year, month, day, hour, minute, second int
	frac                                   string // fractional second digits, as sent
	prec                                   precision
	hasZone                                bool
	offset                                 int // seconds east of UTC, when hasZone
}

const (
	dateFormat     = "YYYY[MM[DD]]"
	dateTimeFormat = "YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]"
)

// parseV2Time parses YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. With
// dateOnly (a DT field) a time part is an error.
func parseV2Time(s string, dateOnly bool) (v2Time, bool) {
	var t v2Time
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	digits, rest := s[:n], s[n:]
	switch len(digits) {
	case 4, 6, 8:
	case 10, 12, 14:
		if dateOnly {
			return t, false
		}
	default:
		return t, false
	}
	t.prec = precision((len(digits) - 2) / 2) // 4 digits: year ... 14: second
	t.year = atoi(digits[0:4])
	t.month, t.day = 1, 1
	if len(digits) >= 6 {
		t.month = atoi(digits[4:6])
	}
	if len(digits) >= 8 {
		t.day = atoi(digits[6:8])
	}
	if len(digits) >= 10 {
		t.hour = atoi(digits[8:10])
	}
	if len(digits) >= 12 {
		t.minute = atoi(digits[10:12])
	}
	if len(digits) >= 14 {
		t.second = atoi(digits[12:14])
	}
	if len(rest) > 0 && rest[0] == '.' {
		if len(digits) != 14 {
			return t, false
		}
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k == 1 || k > 5 {
			return t, false
		}
		t.frac, rest = rest[1:k], rest[k:]
	}
	if len(rest) > 0 {
		if dateOnly || len(rest) != 5 || (rest[0] != '+' && rest[0] != '-') ||
			!allDigits(rest[1:]) {
			return t, false
		}
		hh, mm := atoi(rest[1:3]), atoi(rest[3:5])
		if hh > 14 || mm > 59 {
			return t, false
		}
		t.hasZone = true
		t.offset = (hh*60 + mm) * 60
		if rest[0] == '-' {
			t.offset = -t.offset
		}
	}
	// FHIR's year regex excludes 0000; time.Date normalises invalid days
	// (Feb 30 -> Mar 2), so a round trip catches them.
	if t.year == 0 || t.month < 1 || t.month > 12 || t.hour > 23 || t.minute > 59 || t.second > 59 {
		return t, false
	}
	d := time.Date(t.year, time.Month(t.month), t.day, 0, 0, 0, 0, time.UTC)
	if d.Day() != t.day || int(d.Month()) != t.month {
		return t, false
	}
	return t, true
}

// date renders the FHIR date part at up to day precision.
func (t v2Time) date() string {
	switch t.prec {
	case precYear:
		return fmt.Sprintf("%04d", t.year)
	case precMonth:
		return fmt.Sprintf("%04d-%02d", t.year, t.month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", t.year, t.month, t.day)
}

// dateTime renders a FHIR dateTime. FHIR has no hour or minute precision
// and requires a zone with a time, so a v2 HH or HHMM is zero-filled to
// seconds, and a zone-less time is read as wall-clock time in loc (the
// sender's zone, per v2).
func (t v2Time) dateTime(loc *time.Location) string {
	if t.prec <= precDay {
		return t.date()
	}
	offset := t.offset
	if !t.hasZone {
		_, offset = time.Date(t.year, time.Month(t.month), t.day, t.hour, t.minute, t.second, 0, loc).Zone()
	}
	s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second)
	if t.frac != "" {
		s += "." + t.frac
	}
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return s + fmt.Sprintf("%c%02d:%02d", sign, offset/3600, offset%3600/60)
}

// hasTime reports whether the value carries a time of day.
func (t v2Time) hasTime() bool { return t.prec > precDay }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // callers pass digits only
	return n
}

// The lenient readers below are what the mappers use: a value that does not
// fit its data type becomes a warning naming it (see conv.warn) and reads as
// empty, so the element is omitted and the rest of the segment converts.

// timeOrWarn is timeAt, warning and returning the zero v2Time on a bad value.
func (c *conv) timeOrWarn(s seg, field, rep, comp int, dateOnly bool) v2Time {
	t, err := c.timeAt(s, field, rep, comp, dateOnly)
	if err != nil {
		c.warn(err)
		return v2Time{}
	}
	return t
}

// dateTimeOrWarn is dateTimeAt, warning and returning "" on a bad value.
func (c *conv) dateTimeOrWarn(s seg, field, rep, comp int) string {
	v, err := c.dateTimeAt(s, field, rep, comp)
	if err != nil {
		c.warn(err)
		return ""
	}
	return v
}

// dateOrWarn is dateAt, warning and returning "" on a bad value.
func (c *conv) dateOrWarn(s seg, field, rep, comp int) string {
	v, err := c.dateAt(s, field, rep, comp)
	if err != nil {
		c.warn(err)
		return ""
	}
	return v
}

// numberOrWarn is numberAt, warning and returning "" on a bad value.
func (c *conv) numberOrWarn(s seg, field, rep, comp int) json.Number {
	v, err := numberAt(s, field, rep, comp)
	if err != nil {
		c.warn(err)
		return ""
	}
	return v
}

// yesNoOrWarn is yesNo, warning on anything but Y or N (ok false then): only
// Y and N are mapped, as the IG's table 0136 map has it.
func (c *conv) yesNoOrWarn(s seg, field int) (value, ok bool) {
	value, ok, err := yesNo(s, field)
	if err != nil {
		c.warn(err)
	}
	return value, ok
}
