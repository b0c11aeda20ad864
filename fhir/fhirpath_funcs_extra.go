package fhir

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// FHIRPath 2.0 functions the official test suite also exercises: sort, comparable,
// lowBoundary and highBoundary.

func fpExtraFuncs() map[string]fpFunc {
	return map[string]fpFunc{
		"sort":        (*fpEnv).sortFn,
		"comparable":  comparableFn,
		"lowBoundary": boundaryFn, "highBoundary": boundaryFn,
	}
}

// sortFn orders the input by its keys (a key written -expr sorts descending); without
// keys, by the items themselves. Empty keys sort first.
func (e *fpEnv) sortFn(x *fpNode, in, focus []item) ([]item, error) {
	type keyed struct {
		it   item
		keys []item
	}
	rows := make([]keyed, len(in))
	desc := make([]bool, len(x.args))
	for i, it := range in {
		rows[i].it = it
		if len(x.args) == 0 {
			rows[i].keys = []item{it}
		}
		for k, a := range x.args {
			if a.op == opUnary && a.name == "-" {
				desc[k], a = true, a.args[0]
			}
			v, err := e.withThis(a, it, i)
			if err != nil {
				return nil, err
			}
			if len(v) > 1 {
				return nil, fmt.Errorf("sort() key has %d items", len(v))
			}
			var key item
			if len(v) == 1 {
				key = v[0]
			}
			rows[i].keys = append(rows[i].keys, key)
		}
	}
	var sortErr error
	sort.SliceStable(rows, func(a, b int) bool {
		for k := range rows[a].keys {
			ka, kb := rows[a].keys[k], rows[b].keys[k]
			c, err := compareKeys(ka, kb)
			if err != nil && sortErr == nil {
				sortErr = err
			}
			if isNoItem(ka) != isNoItem(kb) {
				return isNoItem(ka) // an empty key sorts first, descending too (as in the HL7 engine)
			}
			if c != 0 {
				return (c < 0) != (k < len(desc) && desc[k])
			}
		}
		return false
	})
	out := make([]item, len(rows))
	for i, r := range rows {
		out[i] = r.it
	}
	return out, sortErr
}

func isNoItem(it item) bool { return it.n == nil && it.k == kNone }

func compareKeys(a, b item) (int, error) {
	ea, eb := a.n == nil && a.k == kNone, b.n == nil && b.k == kNone
	switch {
	case ea && eb:
		return 0, nil
	case ea:
		return -1, nil
	case eb:
		return 1, nil
	}
	pa, oka := prim(a)
	pb, okb := prim(b)
	if !oka || !okb || !comparableKinds(pa.k, pb.k) {
		return 0, fmt.Errorf("sort() cannot order %s and %s", systemTypeName(pa), systemTypeName(pb))
	}
	c, _ := compareItems(pa, pb)
	return c, nil
}

// comparableFn tells whether two quantities have units of the same dimension.
func comparableFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return nil, err
	}
	o, err := e.arg(x, focus, 0)
	if err != nil || len(o) != 1 {
		return nil, err
	}
	a, oka := prim(it)
	b, okb := prim(o[0])
	if !oka || !okb || a.k != kQuantity || b.k != kQuantity {
		return nil, fmt.Errorf("comparable() compares quantities")
	}
	_, da, ok1 := ucumUnit(a.unit)
	_, db, ok2 := ucumUnit(b.unit)
	return boolColl(ok1 && ok2 && da == db), nil
}

// boundaryFn is lowBoundary/highBoundary: the least or greatest value the input could
// stand for, at the given precision (decimal places; digits of a date/time).
func boundaryFn(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
	it, ok, err := single(x, in)
	if !ok || err != nil {
		return nil, err
	}
	prec, hasPrec, err := e.argInt(x, focus, 0)
	if err != nil {
		return nil, err
	}
	p, _ := prim(it)
	high := x.name == "highBoundary"
	switch p.k {
	case kInteger, kDecimal, kQuantity:
		if !hasPrec {
			prec = 8
		}
		s, ok := decimalBoundary(p, prec, high)
		if !ok {
			return nil, nil
		}
		if p.k == kQuantity {
			f, _ := strconv.ParseFloat(s, 64)
			return []item{{k: kQuantity, f: f, s: s, unit: p.unit}}, nil
		}
		f, _ := strconv.ParseFloat(s, 64)
		return []item{{k: kDecimal, f: f, s: s}}, nil
	case kDate, kDateTime, kTime:
		t, ok := parseDT(p.k, p.s)
		if !ok {
			return nil, nil
		}
		return dateBoundary(t, prec, hasPrec, high)
	}
	return nil, fmt.Errorf("%s() needs a number, quantity or date/time", x.name)
}

// decimalBoundary is the least or greatest decimal the value may stand for, to prec digits:
// as the HL7 engine computes it, the low boundary of a non-negative value is truncated and
// the high one rounded half up (1.587 → 1.58 and 1.59; 0.0034 → 0.0 and 0.0), and a
// negative value's boundaries mirror those of its absolute value (-1.587 → -1.59, -1.58).
func decimalBoundary(p item, prec int, high bool) (string, bool) {
	if prec < 0 || prec > 31 {
		return "", false
	}
	v, _ := numVal(p)
	scale := decimalScale(itemString(item{k: kDecimal, f: p.f, s: p.s, i: p.i}))
	if p.k == kInteger {
		scale = 0
	}
	neg := v < 0
	if neg {
		v, high = -v, !high
	}
	half := 0.5 * math.Pow(10, -float64(scale))
	m := math.Pow(10, float64(prec))
	var r float64
	if high {
		r = math.Floor(roundSig((v+half)*m) + 0.5)
	} else {
		r = math.Trunc(roundSig((v - half) * m))
	}
	s := strconv.FormatFloat(math.Abs(r/m), 'f', prec, 64)
	if neg || r < 0 {
		s = "-" + s
	}
	return s, true
}

// dateBoundary fills the missing components of a date/time with their least or greatest
// values, up to prec digits (date 4, 6, 8; dateTime … 17; time 2, 4, 6, 9).
func dateBoundary(t fpDT, prec int, hasPrec, high bool) ([]item, error) {
	levels := map[int]int{4: precYear, 6: precMonth, 8: precDay, 10: precHour, 12: precMinute, 14: precSecond, 17: precMilli}
	if t.kind == kTime {
		levels = map[int]int{2: precHour, 4: precMinute, 6: precSecond, 9: precMilli}
	}
	if !hasPrec {
		prec = map[valKind]int{kDate: 8, kDateTime: 17, kTime: 9}[t.kind]
	}
	target, ok := levels[prec]
	if !ok {
		return nil, nil
	}
	if t.kind == kDateTime && t.prec == precHour {
		t.mi, t.prec = 0, precMinute // T08 is read as T08:00, as the HL7 engine does
	}
	if t.kind == kDate && target > precDay {
		return nil, nil
	}
	for lvl := t.prec + 1; lvl <= target; lvl++ {
		fillComponent(&t, lvl, high)
	}
	t.prec = target
	if t.kind == kDateTime && target >= precHour && !t.tz {
		t.tz, t.tzText = true, "+14:00"
		if high {
			t.tzText = "-12:00"
		}
	}
	if t.kind == kDateTime && target <= precDay {
		t.kind = kDate
	}
	return []item{dtItem(t)}, nil
}

func fillComponent(t *fpDT, lvl int, high bool) {
	pick := func(lo, hi int) int {
		if high {
			return hi
		}
		return lo
	}
	switch lvl {
	case precMonth:
		t.mo = pick(1, 12)
	case precDay:
		t.d = pick(1, daysIn(t.y, t.mo))
	case precHour:
		t.h = pick(0, 23)
	case precMinute:
		t.mi = pick(0, 59)
	case precSecond:
		t.s = pick(0, 59)
	case precMilli:
		t.ms = pick(0, 999)
	}
	t.prec = lvl
}
