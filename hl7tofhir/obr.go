package hl7tofhir

import "strings"

// OBR -> DiagnosticReport (IG segment-obr-to-diagnosticreport); the OBX
// segments after it become its Observations (result).
//
//   - identifier: OBR-2 placer (PLAC) and OBR-3 filler (FILL) order
//     numbers, or ORC-2/ORC-3 when OBR leaves them empty; the filler number
//     (else the placer's) keys the report, and its Observations are keyed
//     by it and OBX-1, so a corrected result replaces the original;
//   - status OBR-25 via table 0123 ("unknown" when empty or not in the
//     table, with a warning); category OBR-24
//     (table 0074); code OBR-4 (required);
//   - effective OBR-7, or OBR-7..OBR-8 as a period; issued OBR-22 when it
//     has a time of day (an instant needs one). A bad date is a warning and
//     is left out; an OBR without OBR-4 makes no report (a warning), and
//     the OBX after it stand alone.
func (c *conv) mapOBR(s seg, g group) (*entry, error) {
	code := c.codeableAt(s, 4, 1)
	if code.Len() == 0 {
		return nil, fieldErr(s.at(4, 1, 0), "", "is empty: the OBR is not converted", "the universal service identifier: it is DiagnosticReport.code")
	}
	placer, placerKey := c.entityIdentifier(s.field(2, 1), "PLAC")
	filler, fillerKey := c.entityIdentifier(s.field(3, 1), "FILL")
	copied := 0 // JSON bytes of ORC identifiers this report takes
	if o := g.order; o != nil {
		if placer == nil {
			id := o.placerID(c)
			placer, placerKey, copied = id.id, id.key, id.size
		}
		if filler == nil {
			id := o.fillerID(c)
			filler, fillerKey, copied = id.id, id.key, copied+id.size
		}
	}
	key := c.msgKey(s)
	switch {
	case fillerKey != "":
		key = "filler|" + fillerKey
	case placerKey != "":
		key = "placer|" + placerKey
	}
	e, isNew := c.entry("DiagnosticReport", key)
	if isNew && copied > 0 {
		if err := c.charge(g.order, copied); err != nil {
			return nil, err
		}
	}
	r := e.res

	status := "unknown"
	if v := strings.ToUpper(s.get(25, 1, 1)); v != "" {
		var ok bool
		if status, ok = reportStatusMap[v]; !ok {
			status = "unknown"
			c.warnf(s.at(25, 1, 0), v, "is not a result status: status is unknown", "HL7 table 0123: O, I, S, A, P, C, R, F, X, M, N")
		}
	}
	var ids []any
	for _, id := range []*Object{placer, filler} {
		if id != nil {
			ids = append(ids, id)
		}
	}
	r.Set("identifier", ids)
	r.Set("status", status)
	if cat := s.get(24, 1, 1); cat != "" {
		r.Set("category", []any{obj("coding", []any{obj("system", sysV2+"0074", "code", cat)})})
	}
	r.Set("code", code)
	r.Set("subject", c.patient.ref())
	if c.encounter != nil {
		r.Set("encounter", c.encounter.ref())
	}
	start, end := c.dateTimeOrWarn(s, 7, 1, 1), c.dateTimeOrWarn(s, 8, 1, 1)
	if end != "" {
		r.Set("effectivePeriod", obj("start", start, "end", end))
	} else {
		r.Set("effectiveDateTime", start)
	}
	if issued := c.timeOrWarn(s, 22, 1, 1, false); issued.hasTime() {
		r.Set("issued", issued.dateTime(c.opts.TimeZone))
	}
	return e, nil
}
