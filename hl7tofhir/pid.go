package hl7tofhir

import (
	"regexp"
	"strings"
)

// PID -> Patient (IG segment-pid-to-patient).
//
//   - identifier: PID-2, PID-3 and PID-4 repetitions (CX, see identifier);
//   - name: PID-5 repetitions, use from XPN-7; PID-9 aliases after them;
//     PID-6 mother's maiden name -> patient-mothersMaidenName extension;
//   - telecom: PID-13 (home unless XTN-2 says), PID-14 (work);
//   - gender: PID-8 via table 0001; birthDate: PID-7 at its precision, with
//     the patient-birthTime extension when PID-7 has a time of day;
//   - address: PID-11; maritalStatus: PID-16 via table 0002;
//   - communication: PID-15 as a BCP-47 language, preferred;
//   - multipleBirth: PID-25 birth order, else PID-24;
//   - deceased: PID-29 date/time, else PID-30 indicator.
//
// Only a PID with no identifier at all (in PID-2, PID-3 or PID-4) refuses
// the message: there is no patient to put the rest on. Any other value that
// does not fit is a warning and its element is left out: a bad birth date,
// an administrative sex outside table 0001, a death or multiple birth
// indicator other than Y or N (PID-30 "NO"), a birth order that is no
// number.
func (c *conv) mapPatient(s seg) error {
	// Sized up front: a PID-3 of 100,000 repetitions should not be copied
	// over and over as the slices grow.
	fromPID3 := make([]Identifier, 0, s.reps(3))
	others := make([]Identifier, 0, s.reps(2)+s.reps(4))
	identifiers := make([]any, 0, cap(fromPID3)+cap(others))
	for _, n := range []int{2, 3, 4} {
		for r := 1; r <= s.reps(n); r++ {
			id, ident, _ := c.identifier(s.field(n, r))
			if id == nil {
				continue
			}
			identifiers = append(identifiers, id)
			if n == 3 {
				fromPID3 = append(fromPID3, ident)
			} else {
				others = append(others, ident)
			}
		}
	}
	ids := append(fromPID3, others...)
	if len(ids) == 0 {
		return refusal(s.label()+"-3", s.get(3, 1, 1), "has no identifier", "at least one CX with an ID number in CX-1: it keys the Patient")
	}
	e, _ := c.entryWithID("Patient", c.patientID(ids, s.label()+"-3"))
	c.patient = e
	p := e.res

	if v := s.sub(6, 1, 1, 1); v != "" {
		p.Set("extension", []any{obj("url", "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString", v)})
	}
	p.Set("identifier", identifiers)
	var names []any
	for _, n := range []int{5, 9} {
		for r := 1; r <= s.reps(n); r++ {
			if name := humanName(s.field(n, r), 1); name != nil {
				names = append(names, name)
			}
		}
	}
	p.Set("name", names)
	var telecom []any
	for _, t := range []struct {
		field int
		use   string
	}{{13, "home"}, {14, "work"}} {
		for r := 1; r <= s.reps(t.field); r++ {
			if cp := contactPoint(s.field(t.field, r), t.use); cp != nil {
				telecom = append(telecom, cp)
			}
		}
	}
	p.Set("telecom", telecom)
	p.Set("gender", c.genderOrWarn(s, 8))
	if birth := c.timeOrWarn(s, 7, 1, 1, false); birth.prec > 0 {
		p.Set("birthDate", birth.date())
		if birth.hasTime() {
			p.Set("_birthDate", obj("extension", []any{obj(
				"url", "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
				"valueDateTime", birth.dateTime(c.opts.TimeZone))}))
		}
	}
	c.deceased(s, p)
	var addresses []any
	for r := 1; r <= s.reps(11); r++ {
		if a := address(s.field(11, r)); a != nil {
			addresses = append(addresses, a)
		}
	}
	p.Set("address", addresses)
	p.Set("maritalStatus", c.mapped(s.field(16, 1), maritalMap))
	c.multipleBirth(s, p)
	if lang := c.language(s.field(15, 1)); lang.Len() > 0 {
		p.Set("communication", []any{obj("language", lang, "preferred", true)})
	}
	return nil
}

// fhirID is FHIR's id syntax.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// patientID applies Options.PatientID, then the default rule: the NHS
// number, else a UUID derived from the first identifier. An id from
// Options.PatientID that is not a FHIR id is a warning, and the default rule
// chooses.
func (c *conv) patientID(ids []Identifier, at string) string {
	if c.opts.PatientID != nil {
		if id := c.opts.PatientID(ids); id != "" {
			if fhirID.MatchString(id) {
				return id
			}
			c.warnf(at, id, "gives a Patient id (from Options.PatientID) that is not a FHIR id: the default id is used", "1-64 of A-Z a-z 0-9 - .")
		}
	}
	for _, id := range ids {
		if id.System == c.opts.NHSNumberSystem && fhirID.MatchString(id.Value) {
			return id.Value
		}
	}
	return c.idFor("Patient", ids[0].System+"|"+ids[0].Value)
}

// genderOrWarn is gender, warning and leaving it out on an unknown code.
func (c *conv) genderOrWarn(s seg, field int) string {
	g, err := c.gender(s, field)
	if err != nil {
		c.warn(err)
	}
	return g
}

// gender maps an administrative sex field (PID-8, NK1-15) via table 0001.
// AdministrativeGender is a required binding, so an unknown code is an error
// listing the message version's table.
func (c *conv) gender(s seg, field int) (string, error) {
	v := strings.ToUpper(s.get(field, 1, 1))
	if v == "" {
		return "", nil
	}
	g, ok := genderMap[v]
	if !ok {
		codes := c.spec.tableCodes("0001")
		if codes == "" {
			codes = "A, F, M, N, O, U"
		}
		return "", fieldErr(s.at(field, 1, 0), v, "is not an administrative sex code", "HL7 table 0001 (v"+c.spec.name+"): "+codes)
	}
	return g, nil
}

// deceased maps PID-29 (date/time of death), else PID-30 (indicator).
func (c *conv) deceased(s seg, p *Object) {
	if when := c.dateTimeOrWarn(s, 29, 1, 1); when != "" {
		p.Set("deceasedDateTime", when)
		return
	}
	if dead, ok := c.yesNoOrWarn(s, 30); ok {
		p.Set("deceasedBoolean", dead)
	}
}

// multipleBirth maps PID-25 (birth order), else PID-24 (indicator).
func (c *conv) multipleBirth(s seg, p *Object) {
	if v := s.get(25, 1, 1); v != "" {
		n := atoi(v)
		if allDigits(v) && len(v) < 9 && n >= 1 {
			p.Set("multipleBirthInteger", n)
			return
		}
		c.warnf(s.at(25, 1, 0), v, "is not a birth order", "a whole number from 1")
	}
	if multi, ok := c.yesNoOrWarn(s, 24); ok {
		p.Set("multipleBirthBoolean", multi)
	}
}

// mapped is a CodeableConcept for a coded field whose v2 table has a
// concept map: the mapped coding, plus the original text; codes the map
// lacks keep their v2 coding.
func (c *conv) mapped(f field, m map[string]code) *Object {
	v := strings.ToUpper(f.c(1))
	if v == "" {
		return c.codeable(f, 1)
	}
	if to, ok := m[v]; ok {
		return obj("coding", []any{to.coding()}, "text", f.c(2))
	}
	return c.codeable(f, 1)
}

// iso639 maps the ISO 639-2 codes v2 senders use to the BCP-47 (ISO 639-1)
// tags FHIR's language binding requires.
var iso639 = map[string]string{
	"ENG": "en", "FRE": "fr", "FRA": "fr", "GER": "de", "DEU": "de", "SPA": "es", "ITA": "it",
	"POR": "pt", "POL": "pl", "URD": "ur", "PAN": "pa", "BEN": "bn", "GUJ": "gu", "ARA": "ar",
	"CHI": "zh", "ZHO": "zh", "WEL": "cy", "CYM": "cy", "TUR": "tr", "RUM": "ro", "RON": "ro",
	"SOM": "so", "LIT": "lt", "HIN": "hi", "TAM": "ta", "RUS": "ru", "DUT": "nl", "NLD": "nl",
}

var bcp47 = regexp.MustCompile(`^[a-zA-Z]{2}(-[a-zA-Z0-9]{2,8})*$`)

// language maps a language CE (PID-15, NK1-20) to a CodeableConcept in
// urn:ietf:bcp:47; a code that is not a language tag is kept as text.
func (c *conv) language(f field) *Object {
	code, text := f.c(1), f.c(2)
	if code == "" {
		return obj("text", text)
	}
	tag := ""
	if t, ok := iso639[strings.ToUpper(code)]; ok {
		tag = t
	} else if bcp47.MatchString(code) {
		primary, rest, _ := strings.Cut(code, "-")
		tag = strings.ToLower(primary)
		if rest != "" {
			tag += "-" + rest
		}
	}
	if tag == "" {
		if text == "" {
			text = code
		}
		return obj("text", text)
	}
	return obj("coding", []any{obj("system", sysBCP47, "code", tag, "display", text)})
}
