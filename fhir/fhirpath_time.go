package fhir

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FHIRPath dates, dateTimes and times: partial precision, comparison per precision (empty
// when the precisions differ and the common part is equal), arithmetic with calendar
// durations.

// Precisions of a date/time, coarsest first. Seconds and milliseconds compare as one.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precMilli
)

// fpDT is a parsed date, dateTime or time.
type fpDT struct {
	kind                   valKind
	y, mo, d, h, mi, s, ms int
	prec                   int
	tz                     bool
	tzMin                  int    // offset east of UTC in minutes
	tzText                 string // the offset as written: Z, +10:00
}

var (
	reDTDate = regexp.MustCompile(`^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$`)
	reDTTime = regexp.MustCompile(`^([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)
)

// parseDT parses the text of a date (2015-02), dateTime (2015-02-04T14:34+01:00) or time
// (14:34:28.123) of kind k.
func parseDT(k valKind, s string) (fpDT, bool) {
	t := fpDT{kind: k, mo: 1, d: 1}
	datePart, timePart := s, ""
	if k == kTime {
		datePart, timePart = "", s
	} else if i := strings.IndexByte(s, 'T'); i >= 0 {
		datePart, timePart = s[:i], s[i+1:]
	}
	if datePart != "" {
		m := reDTDate.FindStringSubmatch(datePart)
		if m == nil {
			return t, false
		}
		t.y, _ = strconv.Atoi(m[1])
		t.prec = precYear
		if m[2] != "" {
			t.mo, _ = strconv.Atoi(m[2])
			t.prec = precMonth
		}
		if m[3] != "" {
			t.d, _ = strconv.Atoi(m[3])
			t.prec = precDay
		}
		if t.mo < 1 || t.mo > 12 || t.d < 1 || t.d > daysIn(t.y, t.mo) {
			return t, false
		}
	}
	if timePart != "" && !t.parseTime(timePart) {
		return t, false
	}
	if k == kTime && timePart == "" {
		return t, false
	}
	return t, true
}

func (t *fpDT) parseTime(s string) bool {
	m := reDTTime.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	t.h, _ = strconv.Atoi(m[1])
	t.prec = precHour
	if m[2] != "" {
		t.mi, _ = strconv.Atoi(m[2])
		t.prec = precMinute
	}
	if m[3] != "" {
		t.s, _ = strconv.Atoi(m[3])
		t.prec = precSecond
	}
	if m[4] != "" {
		f, _ := strconv.ParseFloat("0."+m[4], 64)
		t.ms = int(math.Round(f * 1000))
		t.prec = precMilli
	}
	if m[5] != "" {
		t.tz, t.tzText = true, m[5]
		if m[5] != "Z" {
			hh, _ := strconv.Atoi(m[5][1:3])
			mm, _ := strconv.Atoi(m[5][4:6])
			t.tzMin = hh*60 + mm
			if m[5][0] == '-' {
				t.tzMin = -t.tzMin
			}
		}
	}
	return t.h < 24 && t.mi < 60 && t.s < 60
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String prints t at its precision, as FHIR writes it (without the @).
func (t fpDT) String() string {
	var b strings.Builder
	if t.kind != kTime {
		fmt.Fprintf(&b, "%04d", t.y)
		if t.prec >= precMonth {
			fmt.Fprintf(&b, "-%02d", t.mo)
		}
		if t.prec >= precDay {
			fmt.Fprintf(&b, "-%02d", t.d)
		}
		if t.prec < precHour || t.kind == kDate {
			return b.String()
		}
		b.WriteByte('T')
	}
	fmt.Fprintf(&b, "%02d", t.h)
	if t.prec >= precMinute {
		fmt.Fprintf(&b, ":%02d", t.mi)
	}
	if t.prec >= precSecond {
		fmt.Fprintf(&b, ":%02d", t.s)
	}
	if t.prec >= precMilli {
		fmt.Fprintf(&b, ".%03d", t.ms)
	}
	if t.tz && t.kind != kTime {
		b.WriteString(t.tzText)
	}
	return b.String()
}

// utc shifts a value with a time zone and a time to UTC.
func (t fpDT) utc() fpDT {
	if !t.tz || t.prec < precHour || t.tzMin == 0 {
		return t
	}
	g := time.Date(t.y, time.Month(t.mo), t.d, t.h, t.mi, t.s, t.ms*1e6, time.FixedZone("", t.tzMin*60)).UTC()
	u := t
	u.y, u.mo, u.d, u.h, u.mi, u.s = g.Year(), int(g.Month()), g.Day(), g.Hour(), g.Minute(), g.Second()
	u.tzMin = 0
	return u
}

// components lists the comparable parts, seconds and milliseconds together.
func (t fpDT) components() []int {
	return []int{t.y, t.mo, t.d, t.h, t.mi, t.s*1000 + t.ms}
}

// level is the number of comparable components t has.
func (t fpDT) level() int {
	if t.kind == kTime {
		return min(t.prec, precSecond) - precHour + 1
	}
	return min(t.prec, precSecond)
}

// compareDT orders two dates/times: (order, known). Values whose precisions differ compare
// on their common precision and are unknown when equal there; so are a value with a time
// zone and one without.
func compareDT(a, b fpDT) (int, bool) {
	if a.prec >= precHour && b.prec >= precHour && a.tz != b.tz && a.kind != kTime {
		return 0, false
	}
	a, b = a.utc(), b.utc()
	ca, cb := a.components(), b.components()
	if a.kind == kTime {
		ca, cb = ca[3:], cb[3:]
	}
	la, lb := a.level(), b.level()
	for i := 0; i < min(la, lb); i++ {
		switch {
		case ca[i] < cb[i]:
			return -1, true
		case ca[i] > cb[i]:
			return 1, true
		}
	}
	if la != lb {
		return 0, false
	}
	return 0, true
}

// compareDateTimes compares the texts of two dates/dateTimes (or two times).
func compareDateTimes(a, b item) (int, bool) {
	ta, oka := parseDT(a.k, a.s)
	tb, okb := parseDT(b.k, b.s)
	if !oka || !okb {
		return 0, false
	}
	return compareDT(ta, tb)
}

// Calendar units in milliseconds, for durations of a week or less.
var unitMillis = map[string]int64{
	"wk": 7 * 86400000, "d": 86400000, "h": 3600000, "min": 60000, "s": 1000, "ms": 1,
}

// precMillis is the length of the finest component of each precision below a day.
var precMillis = map[int]int64{precHour: 3600000, precMinute: 60000, precSecond: 1000, precMilli: 1}

// addDuration adds (sign 1) or subtracts (sign -1) a time-valued quantity to a date/time.
// Calendar keywords and the UCUM units wk, d, h, min, s, ms are accepted; UCUM a and mo are
// not calendar durations and are refused, as are other units.
func addDuration(t fpDT, q item, sign int) (fpDT, error) {
	unit, ok := calendarUnits[q.unit]
	if !ok {
		unit = q.unit
		if unit == "a" || unit == "mo" || unitMillis[unit] == 0 {
			return t, fmt.Errorf("cannot add a quantity in '%s' to a date/time", q.unit)
		}
	}
	if unit == "a" || unit == "mo" {
		n := int(math.Trunc(q.f)) * sign
		if unit == "a" {
			n *= 12
		}
		if t.prec == precYear || t.kind == kTime {
			n = n / 12 * 12
		}
		if t.kind == kTime {
			return t, nil
		}
		return t.addMonths(n), nil
	}
	ms := int64(math.Trunc(q.f)) * unitMillis[unit]
	if unit == "ms" {
		ms = int64(math.Trunc(q.f))
	}
	ms *= int64(sign)
	switch {
	case t.kind != kTime && t.prec <= precDay:
		days := int(ms / 86400000)
		switch t.prec {
		case precYear:
			return t.addMonths(days / 365 * 12), nil
		case precMonth:
			return t.addMonths(days / 30), nil
		}
		g := time.Date(t.y, time.Month(t.mo), t.d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days)
		t.y, t.mo, t.d = g.Year(), int(g.Month()), g.Day()
		return t, nil
	}
	step := precMillis[t.prec]
	ms = ms / step * step
	g := time.Date(t.y, time.Month(t.mo), t.d, t.h, t.mi, t.s, t.ms*1e6, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	if t.kind == kTime {
		g = time.Date(t.y, time.Month(t.mo), t.d, g.Hour(), g.Minute(), g.Second(), g.Nanosecond(), time.UTC)
	}
	t.y, t.mo, t.d, t.h, t.mi, t.s, t.ms = g.Year(), int(g.Month()), g.Day(), g.Hour(), g.Minute(), g.Second(), g.Nanosecond()/1e6
	return t, nil
}

// addMonths adds n months, keeping the day within the new month (Jan 31 + 1 month = Feb 28).
func (t fpDT) addMonths(n int) fpDT {
	m := t.y*12 + (t.mo - 1) + n
	t.y, t.mo = m/12, m%12+1
	if t.d > daysIn(t.y, t.mo) {
		t.d = daysIn(t.y, t.mo)
	}
	return t
}

// dtItem turns a parsed date/time back into an item.
func dtItem(t fpDT) item {
	return item{k: t.kind, s: t.String()}
}

// nowItems are now(), today() and timeOfDay() for an evaluation.
func nowItems(now time.Time) (dateTime, date, tod item) {
	_, off := now.Zone()
	dt := fpDT{kind: kDateTime, y: now.Year(), mo: int(now.Month()), d: now.Day(), h: now.Hour(), mi: now.Minute(),
		s: now.Second(), ms: now.Nanosecond() / 1e6, prec: precMilli, tz: true, tzMin: off / 60}
	dt.tzText = fmt.Sprintf("+%02d:%02d", off/3600, off/60%60)
	if off < 0 {
		dt.tzText = fmt.Sprintf("-%02d:%02d", -off/3600, -off/60%60)
	}
	d := dt
	d.kind, d.prec, d.tz = kDate, precDay, false
	tm := dt
	tm.kind, tm.tz = kTime, false
	return dtItem(dt), dtItem(d), dtItem(tm)
}
