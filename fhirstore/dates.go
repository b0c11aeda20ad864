package fhirstore

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Dates are indexed and searched as ranges of Unix milliseconds, half-open [lo, hi): a
// value stands for every instant its precision allows, as FHIR date search requires
// (birthDate 1985 is all of 1985; 2024-02-13T14:45:00Z is that whole second). A Period
// open at one end extends to minRange or maxRange. Values without a time zone are read as
// UTC, in the index and in searches alike, so they compare consistently.
const (
	minRange int64 = math.MinInt64
	maxRange int64 = math.MaxInt64
)

// dateRange parses a FHIR date, dateTime or instant (or a search value: the time may lack
// seconds and a zone).
func dateRange(s string) (lo, hi int64, err error) {
	bad := func() (int64, int64, error) {
		return 0, 0, fmt.Errorf("%q is not a FHIR date or dateTime (expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.sss]][Z|+hh:mm])", s)
	}
	num := func(from, n int) (int, bool) {
		if len(s) < from+n {
			return 0, false
		}
		v, err := strconv.Atoi(s[from : from+n])
		return v, err == nil && s[from] != '+' && s[from] != '-'
	}
	year, ok := num(0, 4)
	if !ok {
		return bad()
	}
	month, day := 1, 1
	if len(s) == 4 {
		t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		return t.UnixMilli(), t.AddDate(1, 0, 0).UnixMilli(), nil
	}
	if s[4] != '-' {
		return bad()
	}
	if month, ok = num(5, 2); !ok || month < 1 || month > 12 {
		return bad()
	}
	if len(s) == 7 {
		t := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return t.UnixMilli(), t.AddDate(0, 1, 0).UnixMilli(), nil
	}
	if s[7] != '-' {
		return bad()
	}
	if day, ok = num(8, 2); !ok || day < 1 || day > daysIn(year, month) {
		return bad()
	}
	if len(s) == 10 {
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return t.UnixMilli(), t.AddDate(0, 0, 1).UnixMilli(), nil
	}
	if s[10] != 'T' {
		return bad()
	}
	hour, ok1 := num(11, 2)
	minute, ok2 := num(14, 2)
	if !ok1 || !ok2 || len(s) < 16 || s[13] != ':' || hour > 23 || minute > 59 {
		return bad()
	}
	rest := s[16:]
	sec, nanos := 0, 0
	step := time.Minute
	if len(rest) > 0 && rest[0] == ':' {
		if sec, ok = num(17, 2); !ok || sec > 60 {
			return bad()
		}
		step = time.Second
		rest = s[19:]
		if len(rest) > 1 && rest[0] == '.' {
			n := 1
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			frac := rest[1:n]
			if frac == "" {
				return bad()
			}
			// Milliseconds are the index's precision: finer digits are dropped.
			ms, _ := strconv.Atoi((frac + "00")[:3])
			nanos = ms * 1e6
			step = time.Millisecond
			rest = rest[n:]
		}
	}
	loc := time.UTC
	switch {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		zh, err1 := strconv.Atoi(rest[1:3])
		zm, err2 := strconv.Atoi(rest[4:6])
		if err1 != nil || err2 != nil || zh > 14 || zm > 59 {
			return bad()
		}
		off := zh*3600 + zm*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	return t.UnixMilli(), t.Add(step).UnixMilli(), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// periodRange is the range of a FHIR Period: from its start to the end of its end.
func periodRange(p *object) (lo, hi int64, ok bool) {
	lo, hi = minRange, maxRange
	if s := p.str("start"); s != "" {
		l, _, err := dateRange(s)
		if err != nil {
			return 0, 0, false
		}
		lo = l
	}
	if e := p.str("end"); e != "" {
		_, h, err := dateRange(e)
		if err != nil {
			return 0, 0, false
		}
		hi = h
	}
	return lo, hi, lo != minRange || hi != maxRange
}
