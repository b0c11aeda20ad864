package fhir

import (
	"fmt"
	"math"
	"strconv"
)

// FHIRPath math functions: on an Integer, a Decimal, or (abs) a Quantity.

// numFn wraps a math function of the single numeric input.
func numFn(f func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error)) fpFunc {
	return func(e *fpEnv, x *fpNode, in, focus []item) ([]item, error) {
		it, ok, err := single(x, in)
		if !ok || err != nil {
			return nil, err
		}
		p, ok := prim(it)
		v, num := numVal(p)
		if !ok || !num || (p.k == kQuantity && x.name != "abs") {
			return nil, fmt.Errorf("%s() needs a number", x.name)
		}
		return f(e, x, focus, p, v)
	}
}

// decResult is a decimal result, empty when undefined (sqrt(-1), ln(0)).
func decResult(v float64) ([]item, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, nil
	}
	return []item{decItem(v)}, nil
}

func fpMathFuncs() map[string]fpFunc {
	return map[string]fpFunc{
		"abs": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			switch p.k {
			case kInteger:
				if p.i < 0 {
					p.i = -p.i
				}
				return []item{p}, nil
			case kQuantity:
				return []item{quantityItem(math.Abs(v), p.unit)}, nil
			}
			return decResult(math.Abs(v))
		}),
		"ceiling": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return []item{intItem(int64(math.Ceil(v)))}, nil
		}),
		"floor": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return []item{intItem(int64(math.Floor(v)))}, nil
		}),
		"truncate": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return []item{intItem(int64(math.Trunc(v)))}, nil
		}),
		"exp": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return decResult(math.Exp(v))
		}),
		"ln": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return decResult(math.Log(v))
		}),
		"sqrt": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			return decResult(math.Sqrt(v))
		}),
		"log":   numFn(logPower),
		"power": numFn(logPower),
		"round": numFn(func(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
			n := 0
			if len(x.args) > 0 {
				var ok bool
				var err error
				if n, ok, err = e.argInt(x, focus, 0); err != nil || !ok {
					return nil, err
				}
				if n < 0 {
					return nil, fmt.Errorf("round() needs a precision of 0 or more")
				}
			}
			r := roundTo(v, n)
			return []item{{k: kDecimal, f: r, s: strconv.FormatFloat(r, 'f', n, 64)}}, nil
		}),
	}
}

// logPower is log(base) and power(exponent).
func logPower(e *fpEnv, x *fpNode, focus []item, p item, v float64) ([]item, error) {
	a, err := e.arg(x, focus, 0)
	if err != nil || len(a) == 0 {
		return nil, err
	}
	ap, ok := prim(a[0])
	av, num := numVal(ap)
	if len(a) > 1 || !ok || !num || ap.k == kQuantity {
		return nil, fmt.Errorf("%s() needs a number argument", x.name)
	}
	if x.name == "log" {
		return decResult(math.Log(v) / math.Log(av))
	}
	r := math.Pow(v, av)
	if p.k == kInteger && ap.k == kInteger && ap.i >= 0 && math.Abs(r) < 1<<53 {
		return []item{intItem(int64(r))}, nil
	}
	return decResult(r)
}
