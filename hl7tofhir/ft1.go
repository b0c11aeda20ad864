package hl7tofhir

import (
	"regexp"
	"strings"
)

// FT1 -> ChargeItem. The IG has no FT1 map; this follows the v2 mapping of
// the R4 ChargeItem resource (identifier FT1-2, code FT1-7, subject and
// context from PID and PV1):
//
//   - status billable; FT1-6 transaction type (table 0017) PY payment and
//     AJ adjustment are not charges: those FT1 are listed in Ignored;
//   - code FT1-7, else FT1-25 procedure code (professional billing feeds
//     send the CPT there and leave FT1-7 empty), else FT1-8 description as
//     text; required, so an FT1 with none is a warning and no ChargeItem;
//   - occurrence FT1-4 (a DR period, or a TS in older versions);
//     enteredDate FT1-5 posting date; enterer FT1-24;
//   - performer FT1-20 performed by -> Practitioner; quantity FT1-10;
//     priceOverride FT1-12 unit amount (CP: MO amount and ISO 4217
//     currency); reason FT1-19 diagnoses; productCodeableConcept FT1-29
//     NDC code; account the patient's Account (PID-18).
//
// Keyed by sender and FT1-2 transaction ID, so a re-posted transaction
// updates its ChargeItem; without one, by the message and segment.
func (c *conv) mapFT1(s seg, _ *group) error {
	c.setState(stCharge, nil)
	switch t := strings.ToUpper(s.get(6, 1, 1)); t {
	case "PY", "AJ":
		c.ignore(s)
		return nil
	}
	code := c.codeableAt(s, 7, 1)
	if code.Len() == 0 {
		code = c.codeableAt(s, 25, 1)
	}
	if code.Len() == 0 {
		code = obj("text", s.get(8, 1, 1))
	}
	if code.Len() == 0 {
		return fieldErr(s.at(7, 1, 0), "", "is empty", "a transaction code (or FT1-25 procedure code, or FT1-8 description): it is ChargeItem.code")
	}
	id, ident, err := c.identifier(s.field(2, 1))
	if err != nil {
		c.warn(err)
	}
	key := "msg|" + c.msgKey(s)
	if id != nil {
		key = "txn|" + c.senderKey + "|" + keyPart(ident.System+"|"+ident.Value)
	}
	e, _ := c.entry("ChargeItem", key)
	c.setState(stCharge, e)
	ch := e.res
	if id != nil {
		ch.Set("identifier", []any{id})
	}
	ch.Set("status", "billable")
	ch.Set("code", code)
	ch.Set("subject", c.patient.ref())
	if c.encounter != nil {
		ch.Set("context", c.encounter.ref())
	}
	c.chargeOccurrence(s, ch)
	for r := 1; r <= s.reps(20); r++ {
		if p := c.practitioner(s.field(20, r)); p != nil {
			ch.Append("performer", obj("actor", p.ref()))
		}
	}
	if q, err := numberAt(s, 10, 1, 1); err != nil {
		c.warn(err)
	} else if q != "" {
		ch.Set("quantity", obj("value", q))
	}
	ch.Set("priceOverride", c.money(s, 12))
	if posted, err := c.dateTimeAt(s, 5, 1, 1); err != nil {
		c.warn(err)
	} else {
		ch.Set("enteredDate", posted)
	}
	if p := c.practitioner(s.field(24, 1)); p != nil {
		ch.Set("enterer", p.ref())
	}
	for r := 1; r <= s.reps(19); r++ {
		ch.Append("reason", c.codeableAt(s, 19, r))
	}
	ch.Set("productCodeableConcept", c.codeableAt(s, 29, 1))
	if acct := c.account(); acct != nil {
		ch.Set("account", []any{acct.ref()})
	}
	return nil
}

// chargeOccurrence maps FT1-4: a DR (start^end) since v2.5, a TS before.
func (c *conv) chargeOccurrence(s seg, ch *Object) {
	start, err := c.dateTimeAt(s, 4, 1, 1)
	if err != nil {
		c.warn(err)
		return
	}
	end := ""
	if f, ok := c.spec.field(s.name, 4); ok && !f.isTime {
		if end, err = c.dateTimeAt(s, 4, 1, 2); err != nil {
			c.warn(err)
			end = ""
		}
	}
	if end == "" {
		ch.Set("occurrenceDateTime", start)
		return
	}
	ch.Set("occurrencePeriod", obj("start", start, "end", end))
}

var isoCurrency = regexp.MustCompile(`^[A-Z]{3}$`)

// money maps a CP (price: MO amount ^ currency) to Money; an amount that is
// not a number, or a currency that is not an ISO 4217 code, is a warning.
func (c *conv) money(s seg, field int) *Object {
	v := s.sub(field, 1, 1, 1)
	if v == "" {
		return nil
	}
	n, ok := decimal(v)
	if !ok {
		c.warn(fieldErr(s.at(field, 1, 1), v, "is not a valid amount", "a decimal such as 12.50"))
		return nil
	}
	cur := strings.ToUpper(s.sub(field, 1, 1, 2))
	if cur != "" && !isoCurrency.MatchString(cur) {
		c.warn(fieldErr(s.at(field, 1, 1)+".2", cur, "is not a currency code", "an ISO 4217 code such as GBP"))
		cur = ""
	}
	return obj("value", n, "currency", cur)
}
