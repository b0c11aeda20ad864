package hl7tofhir

import (
	"encoding/json"
	"strconv"
	"strings"

	"junction/hl7"
)

// OBX -> Observation (IG segment-obx-to-observation). Under an OBR it is a
// result of that DiagnosticReport, under an RXA it is partOf that
// Immunization, elsewhere (ADT) it stands alone.
//
//   - value[x] from OBX-5 by OBX-2: NM valueQuantity (units OBX-6); ST, TX,
//     FT valueString (repetitions joined by newlines); CE, CWE, CNE, IS, ID
//     valueCodeableConcept; SN valueQuantity with comparator, valueRange
//     (1-2), valueRatio (1:128) or valueString (<>, +); DT, TS, DTM
//     valueDateTime; TM valueTime. OBX-2 must be a data type of the
//     message's version; other types are errors;
//   - status OBX-11 via table 0085 ("unknown" when empty); code OBX-3;
//     interpretation OBX-8 (v3 ObservationInterpretation); referenceRange
//     OBX-7 (text, and low/high for "a-b"); effective OBX-14, else OBR-7;
//     performer OBX-16 (Practitioner) and OBX-23 (Organization); method
//     OBX-17; bodySite OBX-20; NTE after it -> note.
func (c *conv) mapOBX(s seg, g group) (*entry, error) {
	setID := s.get(1, 1, 1)
	if setID == "" {
		setID = "#" + strconv.Itoa(s.occ)
	}
	key := c.msgKey(s)
	switch {
	case g.report != nil:
		key = g.report.key + "|OBX|" + setID + "|" + s.get(4, 1, 1)
	case g.imm != nil:
		key = g.imm.key + "|OBX|" + setID + "|" + s.get(4, 1, 1)
	}
	e, _ := c.entry("Observation", key)
	o := e.res

	statusCode := strings.ToUpper(s.get(11, 1, 1))
	status := "unknown"
	if statusCode != "" {
		var ok bool
		if status, ok = observationStatusMap[statusCode]; !ok {
			return nil, fieldErr(s.at(11, 1, 0), statusCode, "is not an observation result status", "HL7 table 0085: A, B, C, D, F, I, N, O, P, R, S, U, V, W, X")
		}
	}
	if g.imm != nil {
		o.Set("partOf", []any{g.imm.ref()})
	}
	o.Set("status", status)
	o.Set("code", c.codeableAt(s, 3, 1))
	if o.Get("code") == nil {
		return nil, fieldErr(s.at(3, 1, 0), "", "is empty", "the observation identifier: it is Observation.code")
	}
	o.Set("subject", c.patient.ref())
	if c.encounter != nil {
		o.Set("encounter", c.encounter.ref())
	}
	effective, err := c.dateTimeAt(s, 14, 1, 1)
	if err != nil {
		return nil, err
	}
	if effective == "" && g.report != nil {
		if v, ok := g.report.res.Get("effectiveDateTime").(string); ok {
			effective = v
		}
	}
	o.Set("effectiveDateTime", effective)
	var performers []any
	for r := 1; r <= s.reps(16); r++ {
		if p := c.practitioner(s.field(16, r)); p != nil {
			performers = append(performers, p.ref())
		}
	}
	if org := c.organization(s.field(23, 1)); org != nil {
		performers = append(performers, org.ref())
	}
	o.Set("performer", performers)

	if err := c.observationValue(s, o); err != nil {
		return nil, err
	}
	if statusCode == "N" && !hasValue(o) {
		o.Set("dataAbsentReason", obj("coding", []any{obj("system", sysDataAbsent, "code", "not-asked", "display", "Not Asked")}))
	}
	var interp []any
	for r := 1; r <= s.reps(8); r++ {
		v := s.get(8, r, 1)
		if v == "" {
			continue
		}
		if d, ok := interpretationCodes[strings.ToUpper(v)]; ok {
			interp = append(interp, obj("coding", []any{obj("system", sysInterpretation, "code", strings.ToUpper(v), "display", d)}))
		} else {
			interp = append(interp, obj("coding", []any{obj("system", sysV2+"0078", "code", v)}))
		}
	}
	o.Set("interpretation", interp)
	if m := c.codeableAt(s, 17, 1); m.Len() > 0 {
		o.Set("method", m)
	}
	if b := c.codeableAt(s, 20, 1); b.Len() > 0 {
		o.Set("bodySite", b)
	}
	if rr := c.referenceRange(s); rr != nil {
		o.Set("referenceRange", []any{rr})
	}
	if g.report != nil {
		g.report.res.Append("result", e.ref())
	}
	return e, nil
}

func hasValue(o *Object) bool {
	for _, m := range o.members {
		if strings.HasPrefix(m.key, "value") {
			return true
		}
	}
	return false
}

// anyVersionHasDataType: senders often use a newer value type (CWE) under an older
// version label (2.3); what matters for the mapping is that the type exists at all.
func anyVersionHasDataType(vt string) bool {
	for _, v := range versions {
		if v.hasDataType(vt) {
			return true
		}
	}
	return false
}

// observationValue sets value[x] from OBX-5 according to OBX-2.
func (c *conv) observationValue(s seg, o *Object) error {
	vt := strings.ToUpper(s.get(2, 1, 1))
	n := s.reps(5)
	if vt == "" {
		if n > 0 && s.raw(5, 1) != `""` {
			return fieldErr(s.at(2, 1, 0), "", "is empty but OBX-5 has a value", "the value type (HL7 table 0125) of OBX-5")
		}
		return nil
	}
	if !c.spec.hasDataType(vt) && !anyVersionHasDataType(vt) {
		return fieldErr(s.at(2, 1, 0), vt, "is not a data type of HL7 v"+c.spec.name, "a value type defined in v"+c.spec.name+" (HL7 table 0125)")
	}
	if n == 0 {
		return nil
	}
	single := func() error {
		if n > 1 {
			reps := make([]string, n)
			for r := range reps {
				reps[r] = s.raw(5, r+1)
			}
			whole := strings.Join(reps, string(c.m.Delims().Repetition))
			return fieldErr(s.at(5, 0, 0), whole, "has "+strconv.Itoa(n)+" repetitions for value type "+vt, "one value (only ST, TX and FT repeat)")
		}
		return nil
	}
	switch vt {
	case "NM":
		if err := single(); err != nil {
			return err
		}
		v, err := numberAt(s, 5, 1, 1)
		if err != nil || v == "" {
			return err
		}
		o.Set("valueQuantity", c.quantity(s, v, ""))
	case "ST", "TX", "FT":
		o.Set("valueString", c.text(s, 5, n))
	case "CE", "CWE", "CNE":
		if err := single(); err != nil {
			return err
		}
		o.Set("valueCodeableConcept", c.codeable(s.field(5, 1), 1))
	case "IS", "ID":
		if err := single(); err != nil {
			return err
		}
		if v := s.get(5, 1, 1); v != "" {
			o.Set("valueCodeableConcept", obj("coding", []any{obj("code", v)}))
		}
	case "SN":
		if err := single(); err != nil {
			return err
		}
		return c.structuredNumeric(s, o)
	case "DT", "TS", "DTM":
		if err := single(); err != nil {
			return err
		}
		t, err := c.timeAt(s, 5, 1, 1, vt == "DT")
		if err != nil || t.prec == 0 {
			return err
		}
		o.Set("valueDateTime", t.dateTime(c.opts.TimeZone))
	case "TM":
		if err := single(); err != nil {
			return err
		}
		v := s.get(5, 1, 1)
		t, ok := parseV2Time("20000101"+strings.SplitN(v, ".", 2)[0], false)
		if !ok || len(v) < 2 {
			return fieldErr(s.at(5, 1, 0), v, "is not a valid time", "HH[MM[SS[.S[S[S[S]]]]]]")
		}
		o.Set("valueTime", strconv.Itoa(100 + t.hour)[1:]+":"+strconv.Itoa(100 + t.minute)[1:]+":"+strconv.Itoa(100 + t.second)[1:])
	default:
		return fieldErr(s.at(2, 1, 0), vt, "is not a supported value type", "NM, ST, TX, FT, CE, CWE, CNE, IS, ID, SN, DT, TS, DTM or TM")
	}
	return nil
}

// text joins the n repetitions of a text field (ST, TX, FT) with newlines,
// leaving out the nulls (""). Text types have no components: a stray ^ is
// part of the text. One repetition is returned as it is; more are written
// into one string sized up front.
func (c *conv) text(s seg, field, n int) string {
	if n == 1 {
		raw := s.raw(field, 1)
		if raw == `""` {
			c.null(s, field, 1, 0, 0)
			return ""
		}
		return hl7.Unescape(raw, c.m.Delims())
	}
	size := 0
	for r := 1; r <= n; r++ {
		size += len(s.raw(field, r)) + 1
	}
	var b strings.Builder
	b.Grow(size)
	parts := 0
	for r := 1; r <= n; r++ {
		raw := s.raw(field, r)
		if raw == `""` {
			c.null(s, field, r, 0, 0)
			continue
		}
		if parts > 0 {
			b.WriteByte('\n')
		}
		parts++
		b.WriteString(hl7.Unescape(raw, c.m.Delims()))
	}
	return b.String()
}

// structuredNumeric maps SN (comparator, num1, separator/suffix, num2).
func (c *conv) structuredNumeric(s seg, o *Object) error {
	cmp, sep := s.get(5, 1, 1), s.get(5, 1, 3)
	num1, err := numberAt(s, 5, 1, 2)
	if err != nil {
		return err
	}
	num2, err := numberAt(s, 5, 1, 4)
	if err != nil {
		return err
	}
	switch {
	case cmp == "<>" || sep == "+":
		var parts []string
		for _, p := range []string{cmp, string(num1), sep, string(num2), s.get(6, 1, 1)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		o.Set("valueString", strings.Join(parts, " "))
	case sep == ":" || sep == "/":
		o.Set("valueRatio", obj("numerator", c.quantity(s, num1, ""), "denominator", c.quantity(s, num2, "")))
	case sep == "-":
		o.Set("valueRange", obj("low", c.quantity(s, num1, ""), "high", c.quantity(s, num2, "")))
	case sep == "":
		comparator := ""
		switch cmp {
		case "", "=":
		case "<", ">", "<=", ">=":
			comparator = cmp
		default:
			return fieldErr(s.at(5, 1, 1), cmp, "is not an SN comparator", "one of > < >= <= = <>")
		}
		if num1 != "" {
			o.Set("valueQuantity", c.quantity(s, num1, comparator))
		}
	default:
		return fieldErr(s.at(5, 1, 3), sep, "is not an SN separator/suffix", "one of - + / . :")
	}
	return nil
}

// quantity is a Quantity with the OBX-6 units: UCUM units keep their code
// and system; other units are kept as text (a code needs a system, qty-3).
func (c *conv) quantity(s seg, value json.Number, comparator string) *Object {
	if value == "" {
		return nil
	}
	code, text, sys := s.get(6, 1, 1), s.get(6, 1, 2), c.codeSystem(s.get(6, 1, 3))
	unit := text
	if unit == "" {
		unit = code
	}
	q := obj("value", value, "comparator", comparator, "unit", unit)
	if sys == sysUCUM && code != "" {
		q.Set("system", sysUCUM).Set("code", code)
	}
	return q
}

// referenceRange maps OBX-7: the text as sent, plus low and high when it
// reads "low-high".
func (c *conv) referenceRange(s seg) *Object {
	text := s.get(7, 1, 1)
	if text == "" {
		return nil
	}
	rr := obj()
	if lo, hi, ok := strings.Cut(strings.ReplaceAll(text, " ", ""), "-"); ok && lo != "" {
		l, okL := decimal(lo)
		h, okH := decimal(hi)
		if okL && okH {
			rr.Set("low", c.quantity(s, l, "")).Set("high", c.quantity(s, h, ""))
		}
	}
	return rr.Set("text", text)
}

// NTE after an OBX -> Observation.note; other NTEs (after OBR, ORC, PID)
// have no R4 element to go to and are listed in Result.Ignored.
func (c *conv) mapNTE(s seg, g group) {
	if g.obs == nil {
		c.ignore(s)
		return
	}
	var lines []string
	for r := 1; r <= s.reps(3); r++ {
		lines = append(lines, hl7.Unescape(s.raw(3, r), c.m.Delims()))
	}
	if text := strings.Join(lines, "\n"); text != "" && text != `""` {
		g.obs.res.Append("note", obj("text", text))
	}
}
