package hl7tofhir

import (
	"net/url"
	"strings"
)

// Data type maps (IG datatype-xxx-to-yyy ConceptMaps). Each reads one field
// repetition; component numbers are those of the v2 data type.

// system resolves an assigning authority (HD: namespace, universal ID and
// its type) and identifier type code to an identifier system: a site
// setting for "AUTHORITY^TYPE", then for "AUTHORITY", then the OID, UUID or
// URI the authority names, then the DefaultSystem template. No authority,
// no system.
func (c *conv) system(namespace, universalID, uidType, typ string) string {
	for _, k := range []string{namespace, universalID} {
		if k == "" {
			continue
		}
		if typ != "" {
			if u, ok := c.opts.Systems[strings.ToUpper(k+"^"+typ)]; ok {
				return u
			}
		}
		if u, ok := c.opts.Systems[strings.ToUpper(k)]; ok {
			return u
		}
	}
	if universalID != "" {
		switch strings.ToUpper(uidType) {
		case "ISO":
			return "urn:oid:" + universalID
		case "UUID":
			return "urn:uuid:" + strings.ToLower(universalID)
		case "URI", "URL":
			return universalID
		}
	}
	auth := namespace
	if auth == "" {
		auth = universalID
	}
	if auth == "" {
		return ""
	}
	return c.templateSystem(auth, typ)
}

// templateSystem fills the DefaultSystem template. {type} is the lowercased
// identifier type; with no type it is removed with the character before it,
// so "urn:junction:id:{authority}:{type}" gives urn:junction:id:RX1:mr or
// urn:junction:id:RX1. Keeping the type apart keeps an authority's MRNs
// and visit numbers in different systems.
func (c *conv) templateSystem(authority, typ string) string {
	t := strings.ReplaceAll(c.opts.DefaultSystem, "{authority}", escapeSegment(authority))
	if typ == "" {
		if i := strings.Index(t, "{type}"); i > 0 {
			t = t[:i-1] + t[i+len("{type}"):]
		}
	}
	return strings.ReplaceAll(t, "{type}", escapeSegment(strings.ToLower(typ)))
}

// escapeSegment makes an authority safe inside a URI.
func escapeSegment(s string) string { return url.PathEscape(s) }

// identifier maps CX to Identifier: CX-1 value, CX-4 system (or assigner
// when no system can be made), CX-5 type, CX-7/8 period. An NHS number
// (type NH or authority NHS) gets the NHS number system and loses the
// spaces it is often printed with. A CX with no CX-1 is no identifier. A
// bad CX-7 or CX-8 date is a warning and leaves the period out; the error
// result is always nil (kept for the mappers written against it).
func (c *conv) identifier(f field) (*Object, Identifier, error) {
	value := strings.TrimSpace(f.c(1))
	if value == "" {
		return nil, Identifier{}, nil
	}
	ns, uid, uidType := f.sc(4, 1), f.sc(4, 2), f.sc(4, 3)
	typ := f.c(5)
	sys := c.system(ns, uid, uidType, typ)
	if strings.EqualFold(typ, "NH") || strings.EqualFold(ns, "NHS") {
		sys = c.opts.NHSNumberSystem
	}
	if sys == c.opts.NHSNumberSystem {
		value = strings.ReplaceAll(value, " ", "")
	}
	start := c.dateOrWarn(f.s, f.field, f.rep, 7)
	end := c.dateOrWarn(f.s, f.field, f.rep, 8)
	id := obj(
		"type", typeCoding(typ),
		"system", sys,
		"value", value,
		"period", obj("start", start, "end", end),
	)
	if sys == "" && ns != "" {
		id.Set("assigner", obj("display", ns))
	}
	return id, Identifier{System: sys, Value: value, Type: typ, Authority: ns}, nil
}

// typeCoding is Identifier.type from a table 0203 code.
func typeCoding(typ string) *Object {
	if typ == "" {
		return nil
	}
	return obj("coding", []any{obj("system", sysV2+"0203", "code", typ)})
}

// humanName maps XPN (first is the family name component: 1 for XPN, 2
// for XCN) to HumanName: family, given (given name, then second and further
// names), prefix, suffix (suffix then degree) and use from XPN-7.
func humanName(f field, first int) *Object {
	family := f.sc(first, 1)
	var given, prefix, suffix []any
	for _, n := range []int{first + 1, first + 2} {
		if v := f.c(n); v != "" {
			given = append(given, v)
		}
	}
	if v := f.c(first + 3); v != "" {
		suffix = append(suffix, v)
	}
	if v := f.c(first + 4); v != "" {
		prefix = append(prefix, v)
	}
	if v := f.c(first + 5); v != "" {
		suffix = append(suffix, v)
	}
	name := obj("family", family, "given", given, "prefix", prefix, "suffix", suffix)
	if name.Len() == 0 {
		return nil
	}
	if first == 1 {
		if use, ok := nameUseMap[strings.ToUpper(f.c(7))]; ok {
			name = obj("use", use, "family", family, "given", given, "prefix", prefix, "suffix", suffix)
		}
	}
	return name
}

// address maps XAD to Address: lines from XAD-1 (street) and XAD-2, city,
// state, postal code, country, district (XAD-9 county), use/type from XAD-7.
func address(f field) *Object {
	var lines []any
	for _, v := range []string{f.sc(1, 1), f.c(2)} {
		if v != "" {
			lines = append(lines, v)
		}
	}
	typ := strings.ToUpper(f.c(7))
	a := obj(
		"use", addressUseMap[typ],
		"type", addressTypeMap[typ],
		"line", lines,
		"city", f.c(3),
		"district", f.c(9),
		"state", f.c(4),
		"postalCode", f.c(5),
		"country", f.c(6),
	)
	if a.Get("line") == nil && a.Get("city") == nil && a.Get("postalCode") == nil &&
		a.Get("state") == nil && a.Get("country") == nil && a.Get("district") == nil {
		return nil
	}
	return a
}

// contactPoint maps XTN to ContactPoint. The value is XTN-4 for Internet
// and X.400 addresses, else XTN-12 (unformatted), else the deprecated XTN-1,
// else +country (area) local xext. defaultUse applies when XTN-2 is empty
// (PID-13 is home, PID-14 work).
func contactPoint(f field, defaultUse string) *Object {
	equip := strings.ToUpper(f.c(3))
	value := ""
	switch {
	case equip == "INTERNET" || equip == "X.400" || (equip == "" && f.c(4) != ""):
		value = f.c(4)
		if equip == "" {
			equip = "INTERNET"
		}
	case f.c(12) != "":
		value = f.c(12)
	case f.c(1) != "":
		value = f.c(1)
	default:
		var parts []string
		if v := f.c(5); v != "" {
			parts = append(parts, "+"+strings.TrimPrefix(v, "+"))
		}
		if v := f.c(6); v != "" {
			parts = append(parts, "("+v+")")
		}
		if v := f.c(7); v != "" {
			parts = append(parts, v)
		}
		if v := f.c(8); v != "" && len(parts) > 0 {
			parts = append(parts, "x"+v)
		}
		value = strings.Join(parts, " ")
	}
	if value == "" {
		return nil
	}
	system, ok := telecomSystemMap[equip]
	if !ok {
		// cpt-2: a value needs a system; without a known equipment type a
		// value is a phone number.
		system = "phone"
		if equip != "" {
			system = "other"
		}
	}
	use, ok := telecomUseMap[strings.ToUpper(f.c(2))]
	if !ok && f.c(2) == "" {
		use = defaultUse
	}
	if equip == "CP" {
		use = "mobile"
	}
	if system == "email" && use == "mobile" {
		use = ""
	}
	return obj("system", system, "value", value, "use", use)
}

// codeable maps CWE/CE/CNE (from component base, normally 1) to
// CodeableConcept: the identifier triplet, the alternate triplet and CWE-9
// original text. A coding system that has no FHIR URI keeps code and
// display without a system; a code with no system in a field bound to an
// HL7 table gets the v2 table's system when the version's table has it.
func (c *conv) codeable(f field, base int) *Object {
	var codings []any
	for _, off := range []int{0, 3} {
		code, display, sysName := f.c(base+off), f.c(base+off+1), f.c(base+off+2)
		if code == "" {
			continue
		}
		sys := c.codeSystem(sysName)
		if sys == "" && sysName == "" && off == 0 && base == 1 {
			sys = c.tableSystem(f.s, f.field, code)
		}
		codings = append(codings, obj("system", sys, "code", code, "display", display))
	}
	text := ""
	if base == 1 {
		text = f.c(9)
	}
	if len(codings) == 0 && text == "" {
		text = f.c(base + 1) // text only: CWE-2 with no code
	}
	return obj("coding", codings, "text", text)
}

// codeableAt is codeable for a whole field repetition.
func (c *conv) codeableAt(s seg, field, rep int) *Object { return c.codeable(s.field(field, rep), 1) }

// tableSystem returns the v2 table code system for a code sent without a
// coding system in a field the version binds to an HL7 table, when the
// table lists the code (local codes in user tables stay system-less).
func (c *conv) tableSystem(s seg, field int, code string) string {
	f, ok := c.spec.field(s.name, field)
	if !ok || f.table == "" || !allDigits(f.table) {
		return ""
	}
	t, ok := c.spec.tables(f.table)
	if !ok {
		return ""
	}
	for _, v := range t.codes {
		if v == code {
			return sysV2 + f.table
		}
	}
	return ""
}

// entityIdentifier maps EI (entity ID, namespace ID, universal ID, type)
// to Identifier, with an optional table 0203 type (PLAC, FILL).
func (c *conv) entityIdentifier(f field, typ string) (*Object, string) {
	value := f.c(1)
	if value == "" {
		return nil, ""
	}
	sys := c.system(f.c(2), f.c(3), f.c(4), "")
	return obj("type", typeCoding(typ), "system", sys, "value", value), keyPart(sys + "|" + value)
}
