package fhir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FHIRPath quantities: UCUM units (a practical subset: SI prefixes on g, m, L, s, mol and
// the common customary units) converted to base units for =, ~, comparison and arithmetic,
// and the calendar duration keywords (year … millisecond).

// ucumDims are the exponents of mass, length, time and amount of substance.
type ucumDims [4]int

type ucumAtom struct {
	factor float64
	dims   ucumDims
}

var ucumAtoms = map[string]ucumAtom{
	"1": {1, ucumDims{}}, "%": {0.01, ucumDims{}},
	"g": {1, ucumDims{1, 0, 0, 0}}, "[lb_av]": {453.59237, ucumDims{1, 0, 0, 0}},
	"[oz_av]": {28.349523125, ucumDims{1, 0, 0, 0}}, "t": {1e6, ucumDims{1, 0, 0, 0}},
	"m": {1, ucumDims{0, 1, 0, 0}}, "[in_i]": {0.0254, ucumDims{0, 1, 0, 0}},
	"[ft_i]": {0.3048, ucumDims{0, 1, 0, 0}}, "[yd_i]": {0.9144, ucumDims{0, 1, 0, 0}},
	"[mi_i]": {1609.344, ucumDims{0, 1, 0, 0}},
	"L":      {0.001, ucumDims{0, 3, 0, 0}}, "l": {0.001, ucumDims{0, 3, 0, 0}},
	"s": {1, ucumDims{0, 0, 1, 0}}, "min": {60, ucumDims{0, 0, 1, 0}}, "h": {3600, ucumDims{0, 0, 1, 0}},
	"d": {86400, ucumDims{0, 0, 1, 0}}, "wk": {604800, ucumDims{0, 0, 1, 0}},
	"mo": {2629800, ucumDims{0, 0, 1, 0}}, "a": {31557600, ucumDims{0, 0, 1, 0}},
	"mol": {1, ucumDims{0, 0, 0, 1}},
}

var ucumPrefixes = map[string]float64{
	"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3,
	"h": 1e2, "da": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12,
	"f": 1e-15, "a": 1e-18,
}

// ucumUnit converts a unit expression (mg, mg/dL, m2, kg.m/s2, 1) to its factor to base
// units and its dimensions.
func ucumUnit(u string) (float64, ucumDims, bool) {
	if cu, ok := calendarUnits[u]; ok {
		u = cu
	}
	factor, dims := 1.0, ucumDims{}
	if u == "" {
		return factor, dims, true
	}
	sign := 1
	start := 0
	if u[0] == '/' {
		sign, start = -1, 1
	}
	for i := start; i <= len(u); i++ {
		if i < len(u) && u[i] != '.' && u[i] != '/' {
			continue
		}
		f, d, ok := ucumTerm(u[start:i])
		if !ok {
			return 0, dims, false
		}
		factor *= math.Pow(f, float64(sign))
		for k := range dims {
			dims[k] += sign * d[k]
		}
		if i < len(u) && u[i] == '/' {
			sign = -1
		}
		start = i + 1
	}
	return factor, dims, true
}

// ucumTerm is one factor of a unit: prefix, atom, exponent (cm2, s-1, {score}).
func ucumTerm(t string) (float64, ucumDims, bool) {
	if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
		return 1, ucumDims{}, true
	}
	if i := strings.IndexByte(t, '{'); i > 0 && strings.HasSuffix(t, "}") {
		t = t[:i]
	}
	exp := 1
	j := len(t)
	for j > 0 && (t[j-1] >= '0' && t[j-1] <= '9') {
		j--
	}
	if j > 0 && j < len(t) && t[j-1] == '-' {
		j--
	}
	if j > 0 && j < len(t) {
		exp, _ = strconv.Atoi(t[j:])
		t = t[:j]
	}
	a, ok := ucumAtoms[t]
	if !ok {
		for _, pl := range []int{2, 1} {
			if len(t) > pl {
				if pf, okp := ucumPrefixes[t[:pl]]; okp {
					if at, oka := ucumAtoms[t[pl:]]; oka && t[pl:] != "1" && t[pl:] != "%" {
						a, ok = ucumAtom{pf * at.factor, at.dims}, true
						break
					}
				}
			}
		}
	}
	if !ok {
		return 0, ucumDims{}, false
	}
	var d ucumDims
	for k := range d {
		d[k] = a.dims[k] * exp
	}
	return math.Pow(a.factor, float64(exp)), d, true
}

// isCalendarYM tells the calendar keywords year(s)/month(s), which compare only with each
// other (1 year = 1 'a' is empty: a calendar year is not a UCUM year).
func isCalendarYM(u string) bool {
	c := calendarUnits[u]
	return c == "a" || c == "mo"
}

// quantityCompare orders two quantities: (order, comparable).
func quantityCompare(a, b item, equiv bool) (int, bool) {
	if !equiv && isCalendarYM(a.unit) != isCalendarYM(b.unit) {
		return 0, false
	}
	fa, da, oka := ucumUnit(a.unit)
	fb, db, okb := ucumUnit(b.unit)
	if !oka || !okb {
		if a.unit != b.unit {
			return 0, false
		}
		fa, fb = 1, 1
	} else if da != db {
		return 0, false
	}
	// b in a's unit
	av, bv := a.f, b.f*fb/fa
	if equiv {
		sc := min(decimalScale(a.s), decimalScale(b.s))
		av, bv = roundTo(av, sc), roundTo(bv, sc)
	}
	return compareFloats(av, bv), true
}

// compareFloats orders two numbers, equal within rounding noise.
func compareFloats(a, b float64) int {
	if a == b || math.Abs(a-b) <= 1e-12*math.Max(1, math.Max(math.Abs(a), math.Abs(b))) {
		return 0
	}
	if a < b {
		return -1
	}
	return 1
}

func roundTo(f float64, scale int) float64 {
	p := math.Pow(10, float64(scale))
	return math.Round(f*p) / p
}

// decimalScale is the number of digits after the point of a decimal text.
func decimalScale(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// quantityArith is +, -, * and / on quantities (or a number and a quantity).
func quantityArith(op string, a, b item) ([]item, error) {
	if a.k != kQuantity {
		af, _ := numVal(a)
		a = item{k: kQuantity, f: af, s: itemString(a), unit: "1"}
	}
	if b.k != kQuantity {
		bf, _ := numVal(b)
		b = item{k: kQuantity, f: bf, s: itemString(b), unit: "1"}
	}
	fa, da, oka := ucumUnit(a.unit)
	fb, db, okb := ucumUnit(b.unit)
	if !oka || !okb {
		return nil, fmt.Errorf("unknown unit in '%s' %s '%s'", a.unit, op, b.unit)
	}
	switch op {
	case "+", "-":
		if da != db {
			return nil, fmt.Errorf("cannot %s quantities in '%s' and '%s'", opVerb(op), a.unit, b.unit)
		}
		bv := b.f * fb / fa
		if op == "-" {
			bv = -bv
		}
		return []item{quantityItem(a.f+bv, a.unit)}, nil
	case "*":
		return []item{quantityItem(a.f*b.f, joinUnits(a.unit, b.unit, "."))}, nil
	case "/":
		if b.f == 0 {
			return nil, nil
		}
		return []item{quantityItem(a.f/b.f, joinUnits(a.unit, b.unit, "/"))}, nil
	}
	return nil, fmt.Errorf("operator %s is not defined on quantities", op)
}

func opVerb(op string) string {
	if op == "+" {
		return "add"
	}
	return "subtract"
}

// joinUnits writes the unit of a product or quotient.
func joinUnits(a, b, sep string) string {
	a, b = ucumName(a), ucumName(b)
	switch {
	case sep == "/" && a == b:
		return "1"
	case b == "1":
		return a
	case a == "1" && sep == ".":
		return b
	case a == "1":
		a = ""
	}
	if strings.ContainsAny(b, "./") {
		b = "(" + b + ")"
	}
	return a + sep + b
}

func ucumName(u string) string {
	if c, ok := calendarUnits[u]; ok {
		return c
	}
	return u
}

func quantityItem(f float64, unit string) item {
	f = roundSig(f)
	return item{k: kQuantity, f: f, s: formatDecimal(f), unit: unit}
}

// quantityString is toString() of a quantity: 4 'mg', 1 week.
func quantityString(q item) string {
	num := q.s
	if num == "" {
		num = formatDecimal(q.f)
	}
	if _, ok := calendarUnits[q.unit]; ok {
		return num + " " + q.unit
	}
	return num + " '" + q.unit + "'"
}
