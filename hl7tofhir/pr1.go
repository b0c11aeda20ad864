package hl7tofhir

import (
	"strings"
	"time"
)

// PR1 -> Procedure (IG segment-pr1-to-procedure).
//
//   - status: the IG leaves it to the message: completed in BAR and DFT
//     (procedures billed were done), unknown elsewhere (the IG's default);
//     PR1-20 action code D (delete) is entered-in-error;
//   - code PR1-3, its code joined with the PR1-16 modifiers by ":" (the
//     IG's CPT modifier syntax), PR1-4 description as text;
//   - performedDateTime PR1-5, or performedPeriod PR1-5 to PR1-5 + PR1-7
//     minutes when PR1-5 has minutes;
//   - category PR1-6; reasonCode PR1-15; identifier PR1-19; location PR1-23;
//     partOf PR1-25 when that Procedure is in the same message;
//   - performers PR1-8 anaesthetist (SNOMED 88189002), PR1-11 surgeon
//     (304292004), PR1-12 (no function) -> Practitioner;
//   - subject the Patient, encounter the Encounter.
//
// Keyed by PR1-19, else by encounter (or patient), code and PR1-5. In a
// DFT, the ChargeItem of the FT1 the PR1 follows names it as its service.
func (c *conv) mapPR1(s seg, _ *group) error {
	code := c.procedureCode(s)
	if code.Len() == 0 {
		return fieldErr(s.at(3, 1, 0), "", "is empty", "a procedure code (or PR1-4 description): it is Procedure.code")
	}
	scope := c.patient.id
	if c.encounter != nil {
		scope = c.encounter.id
	}
	id, idKey := c.entityIdentifier(s.field(19, 1), "")
	key := scope + "|" + keyPart(s.get(3, 1, 3)+"|"+s.get(3, 1, 1)+"|"+s.get(4, 1, 1)+"|"+s.get(5, 1, 1))
	if idKey != "" {
		key = "id|" + idKey
	}
	e, _ := c.entry("Procedure", key)
	p := e.res
	if id != nil {
		p.Set("identifier", []any{id})
	}
	p.Set("status", c.procedureStatus(s))
	p.Set("category", c.codeableAt(s, 6, 1))
	p.Set("code", code)
	p.Set("subject", c.patient.ref())
	if c.encounter != nil {
		p.Set("encounter", c.encounter.ref())
	}
	c.performed(s, p)
	c.procedurePerformers(s, p)
	if l := c.location(s.field(23, 1)); l != nil {
		p.Set("location", l.ref())
	}
	if r := c.codeableAt(s, 15, 1); r.Len() > 0 {
		p.Set("reasonCode", []any{r})
	}
	if _, parentKey := c.entityIdentifier(s.field(25, 1), ""); parentKey != "" {
		if parent := c.byKey["Procedure/"+c.idFor("Procedure", "id|"+parentKey)]; parent != nil && parent != e {
			p.Set("partOf", []any{parent.ref()})
		}
	}
	if ch := c.state(stCharge); ch != nil && c.msgType == "DFT" {
		ch.res.Append("service", e.ref())
	}
	return nil
}

func (c *conv) procedureStatus(s seg) string {
	switch {
	case strings.EqualFold(s.get(20, 1, 1), "D"):
		return "entered-in-error"
	case c.msgType == "BAR" || c.msgType == "DFT":
		return "completed"
	}
	return "unknown"
}

// procedureCode is PR1-3 with the PR1-16 modifiers, and PR1-4 as text.
func (c *conv) procedureCode(s seg) *Object {
	code := c.codeableAt(s, 3, 1)
	if mod := s.get(16, 1, 1); mod != "" && s.get(3, 1, 1) != "" {
		joined := s.get(3, 1, 1)
		for r := 1; r <= s.reps(16); r++ {
			if m := s.get(16, r, 1); m != "" {
				joined += ":" + m
			}
		}
		code = obj("coding", []any{obj("system", c.codeSystem(s.get(3, 1, 3)), "code", joined, "display", s.get(3, 1, 2))},
			"text", s.get(3, 1, 9))
	}
	if code.Get("text") == nil {
		code.Set("text", s.get(4, 1, 1))
	}
	return code
}

// performed maps PR1-5 and PR1-7 minutes.
func (c *conv) performed(s seg, p *Object) {
	t, err := c.timeAt(s, 5, 1, 1, false)
	if err != nil || t.prec == 0 {
		c.warnIf(err)
		return
	}
	start := t.dateTime(c.opts.TimeZone)
	mins, ok, err := durationMinutes(s, 7, 0)
	c.warnIf(err)
	if ok && t.prec >= precMinute {
		if st, perr := time.Parse(time.RFC3339Nano, start); perr == nil {
			p.Set("performedPeriod", obj("start", start, "end", st.Add(time.Duration(mins)*time.Minute).Format("2006-01-02T15:04:05Z07:00")))
			return
		}
	}
	p.Set("performedDateTime", start)
}

// procedurePerformers maps PR1-8, PR1-11 and PR1-12.
func (c *conv) procedurePerformers(s seg, p *Object) {
	for _, f := range []struct {
		field int
		code  string
	}{{8, "88189002"}, {11, "304292004"}, {12, ""}} {
		for r := 1; r <= s.reps(f.field); r++ {
			pr := c.practitioner(s.field(f.field, r))
			if pr == nil {
				continue
			}
			var fn *Object
			if f.code != "" {
				fn = obj("coding", []any{obj("system", "http://snomed.info/sct", "code", f.code)})
			}
			p.Append("performer", obj("function", fn, "actor", pr.ref()))
		}
	}
}
