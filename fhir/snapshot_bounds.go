package fhir

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// minValue[x] / maxValue[x] of an element (carried into generated snapshots from the
// differential), checked with the HL7 validator's wording. The walk in validator.go calls
// valueBounds for every element that has a value.

// valueBounds reports a primitive (integer, decimal, date…) or Quantity outside the
// element's minValue/maxValue.
func (c *vctx) valueBounds(n *node, d *elemDef) {
	ed := d.ed
	if ed.MinValue == nil && ed.MaxValue == nil {
		return
	}
	v, limitOf := n, func(raw json.RawMessage) string { return rawScalar(raw) }
	if n.typ == "Quantity" || ed.MinValueType == "Quantity" || ed.MaxValueType == "Quantity" {
		v = n.child("value")
		limitOf = func(raw json.RawMessage) string {
			var q struct {
				Value json.Number `json:"value"`
			}
			_ = json.Unmarshal(raw, &q)
			return q.Value.String()
		}
	}
	if v == nil || !v.hasValue {
		return
	}
	if ed.MinValue != nil {
		if lim := limitOf(ed.MinValue); lim != "" && compareValues(v.value, lim) < 0 {
			c.is.add(n, SeverityError, CodeInvalid, fmt.Sprintf("value is less than permitted minimum value of %s", lim))
		}
	}
	if ed.MaxValue != nil {
		if lim := limitOf(ed.MaxValue); lim != "" && compareValues(v.value, lim) > 0 {
			c.is.add(n, SeverityError, CodeInvalid, fmt.Sprintf("value is greater than permitted maximum value of %s", lim))
		}
	}
}

// rawScalar is a JSON number or string as text.
func rawScalar(raw json.RawMessage) string {
	return strings.Trim(strings.TrimSpace(string(raw)), `"`)
}

// compareValues compares two numbers numerically, or else two dates/times as text when they
// have the same precision (0 when they cannot be compared).
func compareValues(a, b string) int {
	x, okA := new(big.Float).SetString(a)
	y, okB := new(big.Float).SetString(b)
	if okA && okB {
		return x.Cmp(y)
	}
	if len(a) == len(b) {
		return strings.Compare(a, b)
	}
	return 0
}
