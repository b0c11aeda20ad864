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
//     valueDateTime; TM valueTime; DR valuePeriod; NR valueRange; RP and
//     ED an attachment (see observationValue for what does not fit);
//   - status OBX-11 via table 0085 ("unknown" when empty or not in the
//     table, with a warning); code OBX-3 (an OBX without one is left out,
//     with a warning: a value of nothing named is no observation);
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
	code := c.codeableAt(s, 3, 1)
	if code.Len() == 0 {
		return nil, fieldErr(s.at(3, 1, 0), "", "is empty: the OBX is not converted", "the observation identifier: it is Observation.code")
	}
	e, _ := c.entry("Observation", key)
	o := e.res

	statusCode := strings.ToUpper(strings.TrimSpace(s.get(11, 1, 1)))
	status := "unknown"
	if statusCode != "" {
		var ok bool
		if status, ok = observationStatusMap[statusCode]; !ok {
			status = "unknown"
			c.warnf(s.at(11, 1, 0), statusCode, "is not an observation result status: status is unknown", "HL7 table 0085: A, B, C, D, F, I, N, O, P, R, S, U, V, W, X")
		}
	}
	if g.imm != nil {
		o.Set("partOf", []any{g.imm.ref()})
	}
	o.Set("status", status)
	o.Set("code", code)
	o.Set("subject", c.patient.ref())
	if c.encounter != nil {
		o.Set("encounter", c.encounter.ref())
	}
	effective := c.dateTimeOrWarn(s, 14, 1, 1)
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

	c.observationValue(s, o)
	if statusCode == "N" && !hasValue(o) && o.Get("component") == nil && o.Get("extension") == nil {
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

// valueTypes are the OBX-2 types mapped to a value[x]; other types' values
// are kept as strings, with a warning.
var valueTypes = map[string]bool{
	"NM": true, "ST": true, "TX": true, "FT": true, "CE": true, "CWE": true, "CNE": true, "CF": true,
	"IS": true, "ID": true, "SN": true, "DT": true, "TS": true, "DTM": true, "TM": true,
	"RP": true, "ED": true, "DR": true, "NR": true,
}

// observationValue sets value[x] from OBX-5 according to OBX-2. Nothing in
// OBX-5 refuses the segment: a value that does not fit its type is kept as
// valueString with a warning, so a result is never lost to a formatting
// slip (the IG says nothing of bad values; a string is the one value[x]
// that holds any of them):
//
//   - OBX-2 empty with a value: read as ST; OBX-2 not a v2 data type, or
//     one not mapped here (CX, XPN, ...): the value as a string;
//   - NM "<5", ">=10": read as SN, valueQuantity with its comparator; an NM
//     that is no number ("12,5", "see note"): valueString;
//   - OBX-5 repeating for a type other than ST, TX, FT (NM "60~120"): the IG
//     maps one value per OBX; R4's home for several values of one
//     observation is Observation.component, so each repetition is a
//     component with the OBX-3 code and its value, and a warning;
//   - RP (reference pointer) and ED (encapsulated data), which R4's value[x]
//     lacks: the IG's valueAttachment, through R5's cross-version extension
//     for Observation.value (RP-1 pointer as its url, ED Base64 as data).
func (c *conv) observationValue(s seg, o *Object) {
	vt := strings.ToUpper(strings.TrimSpace(s.get(2, 1, 1)))
	n := s.reps(5)
	if n == 0 || (n == 1 && s.raw(5, 1) == `""`) {
		if n == 1 {
			c.null(s, 5, 1, 0, 0)
		}
		return
	}
	switch {
	case vt == "":
		c.warnf(s.at(2, 1, 0), "", "is empty but OBX-5 has a value: read as ST", "the value type (HL7 table 0125) of OBX-5")
		vt = "ST"
	case valueTypes[vt]:
		// Mapped, whatever the version says: RP is absent from the
		// definitions of some, and senders use newer types under older labels.
	case !c.spec.hasDataType(vt) && !anyVersionHasDataType(vt):
		c.warnf(s.at(2, 1, 0), vt, "is not a data type of HL7 v"+c.spec.name+": the value is kept as a string",
			"a value type defined in v"+c.spec.name+" (HL7 table 0125)")
		vt = "ST"
	case !valueTypes[vt]:
		c.warnf(s.at(2, 1, 0), vt, "is not a supported value type: the value is kept as a string",
			"NM, ST, TX, FT, CE, CWE, CNE, CF, IS, ID, SN, DT, TS, DTM, TM, DR, NR, RP or ED")
		vt = "ST"
	}
	if vt == "ST" || vt == "TX" || vt == "FT" {
		o.Set("valueString", c.text(s, 5, n))
		return
	}
	if n == 1 {
		if k, v := c.obsValue(s, vt, 1); k == "extension" {
			o.Append("extension", v)
		} else if k != "" {
			o.Set(k, v)
		}
		return
	}
	c.warnf(s.at(5, 0, 0), repsText(s, 5, n), "has "+strconv.Itoa(n)+" repetitions for value type "+vt+": each is an Observation.component with the OBX-3 code",
		"one value (only ST, TX and FT repeat)")
	var comps []any
	for r := 1; r <= n; r++ {
		k, v := c.obsValue(s, vt, r)
		switch k {
		case "":
		case "extension":
			o.Append("extension", v)
		default:
			comps = append(comps, obj("code", o.Get("code"), k, v))
		}
	}
	o.Set("component", comps)
}

// repsText is a repeating field as sent, bounded for a warning.
func repsText(s seg, field, n int) string {
	var b strings.Builder
	for r := 1; r <= n && b.Len() <= maxWarningValue; r++ {
		if r > 1 {
			b.WriteByte(s.c.m.Delims().Repetition)
		}
		b.WriteString(s.raw(field, r))
	}
	return b.String()
}

// obsValue is the value[x] name and value of repetition rep of OBX-5 for
// value type vt (not a text type); "" when there is none.
func (c *conv) obsValue(s seg, vt string, rep int) (string, any) {
	switch vt {
	case "NM":
		return c.numericValue(s, rep)
	case "CE", "CWE", "CNE", "CF":
		return "valueCodeableConcept", c.codeable(s.field(5, rep), 1)
	case "IS", "ID":
		if v := s.get(5, rep, 1); v != "" {
			return "valueCodeableConcept", obj("coding", []any{obj("code", v)})
		}
	case "SN":
		return c.structuredNumeric(s, rep)
	case "DT", "TS", "DTM":
		t, err := c.timeAt(s, 5, rep, 1, vt == "DT")
		if err != nil {
			return c.keptAsString(err, s.get(5, rep, 1))
		}
		if t.prec > 0 {
			return "valueDateTime", t.dateTime(c.opts.TimeZone)
		}
	case "TM":
		return c.timeValue(s, rep)
	case "DR":
		start, end := c.dateTimeOrWarn(s, 5, rep, 1), c.dateTimeOrWarn(s, 5, rep, 2)
		return "valuePeriod", obj("start", start, "end", end)
	case "NR":
		lo, hi := c.numberOrWarn(s, 5, rep, 1), c.numberOrWarn(s, 5, rep, 2)
		return "valueRange", obj("low", c.quantity(s, lo, ""), "high", c.quantity(s, hi, ""))
	case "RP", "ED":
		return c.attachmentValue(s, vt, rep)
	}
	return "", nil
}

// keptAsString turns a value error into a warning that the value was kept as
// valueString, and returns that value.
func (c *conv) keptAsString(err error, v string) (string, any) {
	if fe, ok := err.(*FieldError); ok {
		w := *fe
		w.Problem += ": kept as a string"
		c.warn(&w)
	}
	return "valueString", v
}

// numericValue maps an NM. A number with a comparator before it ("<5",
// ">= 10") is what SN is for: read as one, with a warning.
func (c *conv) numericValue(s seg, rep int) (string, any) {
	v := s.get(5, rep, 1)
	if v == "" {
		return "", nil
	}
	if n, ok := decimal(v); ok {
		return "valueQuantity", c.quantity(s, n, "")
	}
	t := strings.TrimSpace(v)
	for _, cmp := range []string{"<=", ">=", "<", ">", "="} {
		if rest, ok := strings.CutPrefix(t, cmp); ok {
			if n, ok := decimal(rest); ok {
				c.warnf(s.at(5, rep, 0), v, "is not a valid NM number: read as SN (comparator and number)", "a decimal such as 72.5")
				return "valueQuantity", c.quantity(s, n, strings.TrimPrefix(cmp, "="))
			}
			break
		}
	}
	return c.keptAsString(fieldErr(s.at(5, rep, 0), v, "is not a valid NM number", "a decimal such as 72.5"), v)
}

// timeValue maps a TM (HH[MM[SS[.S...]]][+/-ZZZZ]) to a FHIR time.
func (c *conv) timeValue(s seg, rep int) (string, any) {
	v := s.get(5, rep, 1)
	if v == "" {
		return "", nil
	}
	hms, _, _ := strings.Cut(v, ".")
	if i := strings.IndexAny(hms, "+-"); i > 0 {
		hms = hms[:i]
	}
	t, ok := parseV2Time("20000101"+hms, false)
	if !ok || len(hms) < 2 {
		return c.keptAsString(fieldErr(s.at(5, rep, 0), v, "is not a valid time", "HH[MM[SS[.S[S[S[S]]]]]]"), v)
	}
	return "valueTime", strconv.Itoa(100 + t.hour)[1:] + ":" + strconv.Itoa(100 + t.minute)[1:] + ":" + strconv.Itoa(100 + t.second)[1:]
}

// extObservationValue is R5's Observation.value as a cross-version extension
// in R4, for value types R4's value[x] lacks (Attachment).
const extObservationValue = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value"

// mimeTypes maps table 0291 subtypes (RP-4, ED-3) to MIME types.
var mimeTypes = map[string]string{
	"JPEG": "image/jpeg", "GIF": "image/gif", "TIFF": "image/tiff", "PNG": "image/png", "PDF": "application/pdf",
	"HTML": "text/html", "XML": "text/xml", "RTF": "application/rtf", "DICOM": "application/dicom",
	"POSTSCRIPT": "application/postscript", "OCTET-STREAM": "application/octet-stream",
}

// attachmentValue maps RP (pointer^application^type^subtype) and ED
// (application^type^subtype^encoding^data) to an Attachment. ED data not
// in Base64 is text: valueString.
func (c *conv) attachmentValue(s seg, vt string, rep int) (string, any) {
	f := s.field(5, rep)
	var a *Object
	if vt == "RP" {
		a = obj("contentType", mimeTypes[strings.ToUpper(f.c(4))], "url", f.c(1))
	} else {
		data := f.c(5)
		if !strings.EqualFold(f.c(4), "Base64") {
			if data == "" {
				return "", nil
			}
			return "valueString", data
		}
		a = obj("contentType", mimeTypes[strings.ToUpper(f.c(3))], "data", strings.Join(strings.Fields(data), ""))
	}
	if a.Len() == 0 {
		return "", nil
	}
	return "extension", obj("url", extObservationValue, "valueAttachment", a)
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

// structuredNumeric maps SN (comparator, num1, separator/suffix, num2) of
// repetition rep as the IG does: valueRange for "-", valueRatio for ":"
// and "/", valueString for "+" and "<>", else valueQuantity with the
// comparator. An SN whose parts do not fit is kept as a string.
func (c *conv) structuredNumeric(s seg, rep int) (string, any) {
	cmp, sep := strings.TrimSpace(s.get(5, rep, 1)), strings.TrimSpace(s.get(5, rep, 3))
	raw1, raw2 := s.get(5, rep, 2), s.get(5, rep, 4)
	whole := func() string {
		var parts []string
		for _, p := range []string{cmp, strings.TrimSpace(raw1), sep, strings.TrimSpace(raw2), s.get(6, 1, 1)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, " ")
	}
	num1, ok1 := decimal(raw1)
	num2, ok2 := decimal(raw2)
	switch {
	case raw1 != "" && !ok1:
		return c.keptAsString(fieldErr(s.at(5, rep, 2), raw1, "is not a valid NM number", "a decimal such as 72.5"), whole())
	case raw2 != "" && !ok2:
		return c.keptAsString(fieldErr(s.at(5, rep, 4), raw2, "is not a valid NM number", "a decimal such as 72.5"), whole())
	case cmp == "<>" || sep == "+" || sep == ".":
		return "valueString", whole()
	case sep == ":" || sep == "/":
		return "valueRatio", obj("numerator", c.quantity(s, num1, ""), "denominator", c.quantity(s, num2, ""))
	case sep == "-":
		return "valueRange", obj("low", c.quantity(s, num1, ""), "high", c.quantity(s, num2, ""))
	case sep != "":
		return c.keptAsString(fieldErr(s.at(5, rep, 3), sep, "is not an SN separator/suffix", "one of - + / . :"), whole())
	}
	switch cmp {
	case "", "=":
		cmp = ""
	case "<", ">", "<=", ">=":
	default:
		return c.keptAsString(fieldErr(s.at(5, rep, 1), cmp, "is not an SN comparator", "one of > < >= <= = <>"), whole())
	}
	if num1 == "" {
		return "", nil
	}
	return "valueQuantity", c.quantity(s, num1, cmp)
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
