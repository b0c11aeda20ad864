package hl7tofhir

import (
	"strconv"
	"strings"
)

// TQ1 -> the timing of the group's request (IG segment-tq1-to-servicerequest,
// segment-tq1-to-medicationrequest).
//
//   - ServiceRequest: quantityQuantity TQ1-2; occurrenceTiming with code TQ1-3
//     (repeat pattern), repeat.timeOfDay TQ1-4, repeat.boundsPeriod TQ1-7..8,
//     repeat.count TQ1-14; priority TQ1-9; note TQ1-11;
//   - MedicationRequest: the same Timing as dosageInstruction.timing, and
//     priority TQ1-9.
//
// Not mapped: TQ1-5 and TQ1-6 (relative time, service duration), TQ1-10
// (the IG's extension) and TQ1-13 (occurrence duration): a CQ's units are
// free text that seldom reads as a UCUM time unit. A TQ1 outside an order
// group is ignored.
func (c *conv) mapTQ1(s seg, g *group) error {
	if g.order == nil || g.order.x == nil || g.order.x.req == nil {
		c.ignore(s)
		return nil
	}
	x := g.order.x
	r := x.req.res
	timing := c.timing(s)
	r.Set("priority", c.priority(s, 9, 1, 1))
	if x.med {
		c.dosage(x).Set("timing", timing)
		c.syncDosage(x)
		return nil
	}
	if q := c.cq(s, 2, 1); q != nil {
		r.Set("quantityQuantity", q)
	}
	if !hasPrefix(r, "occurrence") {
		r.Set("occurrenceTiming", timing)
	}
	if text := c.text(s, 11, s.reps(11)); text != "" {
		r.Append("note", obj("text", text))
	}
	return nil
}

// timing builds a Timing from TQ1-3, -4, -7, -8 and -14.
func (c *conv) timing(s seg) *Object {
	repeat := obj()
	start, err := c.dateTimeAt(s, 7, 1, 1)
	c.keep(err)
	end, err := c.dateTimeAt(s, 8, 1, 1)
	c.keep(err)
	repeat.Set("boundsPeriod", obj("start", start, "end", end))
	if n := s.get(14, 1, 1); n != "" {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			repeat.Set("count", v)
		} else {
			c.warn(fieldErr(s.at(14, 1, 0), n, "is not a positive whole number", "the total number of occurrences, e.g. 3"))
		}
	}
	var times []any
	for r := 1; r <= s.reps(4); r++ {
		v := s.get(4, r, 1)
		if v == "" {
			continue
		}
		if t, ok := fhirTime(v); ok {
			times = append(times, t)
		} else {
			c.warn(fieldErr(s.at(4, r, 0), v, "is not a valid time", "HHMM[SS]"))
		}
	}
	repeat.Set("timeOfDay", times)
	return obj("repeat", repeat, "code", c.codeable(s.field(3, 1), 1))
}

// fhirTime turns a v2 TM (HH[MM[SS[.S...]]], no zone) into a FHIR time.
func fhirTime(v string) (string, bool) {
	v, _, _ = strings.Cut(v, ".")
	if len(v) < 2 || len(v) > 6 || len(v)%2 != 0 || !allDigits(v) {
		return "", false
	}
	v += "0000"[:6-len(v)]
	h, m, sec := atoi(v[0:2]), atoi(v[2:4]), atoi(v[4:6])
	if h > 23 || m > 59 || sec > 59 {
		return "", false
	}
	return v[0:2] + ":" + v[2:4] + ":" + v[4:6], true
}

// cq maps a CQ (quantity ^ units as CWE) to a Quantity: UCUM units keep their
// code, others are text only.
func (c *conv) cq(s seg, field, rep int) *Object {
	v := s.get(field, rep, 1)
	if v == "" {
		return nil
	}
	n, ok := decimal(v)
	if !ok {
		c.warn(fieldErr(s.at(field, rep, 1), v, "is not a valid NM number", "a decimal such as 72.5"))
		return nil
	}
	return unitQuantity(n, s.sub(field, rep, 2, 1), s.sub(field, rep, 2, 2), c.codeSystem(s.sub(field, rep, 2, 3)))
}

// TQ (ORC-7, OBR-27, RXE-1: the timing of v2.3 and v2.4, kept for backward
// compatibility since TQ1) -> the request's timing (IG TQ[ServiceRequest]):
// quantityQuantity TQ.1, occurrenceTiming with code TQ.2 (the repeat
// pattern, table 0335), repeat.boundsPeriod TQ.4..TQ.5 and repeat.count
// TQ.12; priority TQ.6; note TQ.8. TQ.3 (a duration in free text) and TQ.11
// are not mapped. Only the first repetition is read.
type tq struct {
	timing, quantity *Object
	priority, note   string
}

func (c *conv) readTQ(s seg, field int) tq {
	var t tq
	if !s.has(field, 1) {
		return t
	}
	if v := s.sub(field, 1, 1, 1); v != "" {
		if n, ok := decimal(v); ok {
			t.quantity = unitQuantity(n, s.sub(field, 1, 1, 2), "", "")
		} else {
			c.warn(fieldErr(s.at(field, 1, 1), v, "is not a valid NM number", "a quantity such as 1"))
		}
	}
	start, err := c.dateTimeAt(s, field, 1, 4)
	c.keep(err)
	end, err := c.dateTimeAt(s, field, 1, 5)
	c.keep(err)
	repeat := obj("boundsPeriod", obj("start", start, "end", end))
	if n := s.get(field, 1, 12); n != "" {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			repeat.Set("count", v)
		} else {
			c.warn(fieldErr(s.at(field, 1, 12), n, "is not a positive whole number", "the total number of occurrences, e.g. 3"))
		}
	}
	var code *Object
	if p := s.sub(field, 1, 2, 1); p != "" {
		code = obj("coding", []any{obj("system", sysV2+"0335", "code", p)})
	}
	t.timing = obj("repeat", repeat, "code", code)
	t.priority = c.priority(s, field, 1, 6)
	t.note = s.get(field, 1, 8)
	return t
}

// applyTQ gives the request the timing of a TQ field.
func (c *conv) applyTQ(x *orderExt, s seg, field int) {
	t := c.readTQ(s, field)
	r := x.req.res
	if r.Get("priority") == nil {
		r.Set("priority", t.priority)
	}
	if x.med {
		if t.timing.Len() > 0 {
			c.dosage(x).Set("timing", t.timing)
			c.syncDosage(x)
		}
		return
	}
	r.Set("quantityQuantity", t.quantity)
	if !hasPrefix(r, "occurrence") {
		r.Set("occurrenceTiming", t.timing)
	}
	if t.note != "" {
		r.Append("note", obj("text", t.note))
	}
}
