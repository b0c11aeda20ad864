package fhir

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Checks of primitive values against the regexes of the FHIR R4 specification
// (http://hl7.org/fhir/R4/datatypes.html), with HL7 validator wording.

var (
	reDate     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	reDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	reTime     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$`)
	reID       = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	reCode     = regexp.MustCompile(`^[^\s]+( [^\s]+)*$`)
	reDecimal  = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	reInteger  = regexp.MustCompile(`^-?([0]|([1-9][0-9]*))$`)
	reOID      = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	reUUID     = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reBase64   = regexp.MustCompile(`^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$`)
)

// checkPrimitive returns the problems with value v of primitive type t (empty when fine):
// severity and message.
func checkPrimitive(t, v string) (string, string) {
	if v == "" && t != "string" && t != "markdown" {
		return SeverityError, "@value cannot be empty"
	}
	switch t {
	case "boolean":
		if v != "true" && v != "false" {
			return SeverityError, "boolean values must be 'true' or 'false'"
		}
	case "integer":
		if !reInteger.MatchString(v) {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid integer", v)
		}
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid integer", v)
		}
	case "positiveInt", "unsignedInt":
		if !reInteger.MatchString(v) {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid integer", v)
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil || i > 2147483647 {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid integer", v)
		}
		if t == "positiveInt" && i < 1 {
			return SeverityError, "value is less than permitted minimum value of 1"
		}
		if i < 0 {
			return SeverityError, "value is less than permitted minimum value of 0"
		}
	case "decimal":
		if !reDecimal.MatchString(v) {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid decimal", v)
		}
	case "date":
		if !reDate.MatchString(v) || !validCalendar(v) {
			return SeverityError, fmt.Sprintf("Not a valid date (%s)", v)
		}
	case "dateTime":
		if !reDateTime.MatchString(v) || !validCalendar(v) {
			return SeverityError, fmt.Sprintf("Not a valid date/time (%s)", v)
		}
	case "instant":
		if !reInstant.MatchString(v) || !validCalendar(v) {
			return SeverityError, fmt.Sprintf("Not a valid instant (%s)", v)
		}
	case "time":
		if !reTime.MatchString(v) {
			return SeverityError, fmt.Sprintf("Not a valid time (%s)", v)
		}
	case "id":
		if !reID.MatchString(v) {
			return SeverityError, fmt.Sprintf("id value '%s' is not valid", v)
		}
	case "code":
		if !reCode.MatchString(v) {
			return SeverityError, fmt.Sprintf("The code '%s' is not valid (whitespace rules)", v)
		}
	case "uri", "url", "canonical":
		if strings.ContainsAny(v, " \t\r\n") {
			return SeverityError, fmt.Sprintf("URI values cannot have whitespace('%s')", v)
		}
		if strings.HasPrefix(v, "oid:") {
			return SeverityError, "URI values cannot start with oid:"
		}
		if strings.HasPrefix(v, "uuid:") {
			return SeverityError, "URI values cannot start with uuid:"
		}
		if t == "url" && !strings.Contains(v, ":") {
			return SeverityError, fmt.Sprintf("The URL '%s' is not valid: a URL must be absolute", v)
		}
	case "oid":
		if !strings.HasPrefix(v, "urn:oid:") {
			return SeverityError, "OIDs must start with urn:oid:"
		}
		if !reOID.MatchString(v) {
			return SeverityError, fmt.Sprintf("OIDs must be valid (%s)", v)
		}
	case "uuid":
		if !strings.HasPrefix(v, "urn:uuid:") {
			return SeverityError, "UUIDs must start with urn:uuid:"
		}
		if !reUUID.MatchString(v) {
			return SeverityError, "UUIDs must be valid (and lowercase)"
		}
	case "base64Binary":
		s := strings.Join(strings.Fields(v), "")
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || !reBase64.MatchString(v) {
			return SeverityError, fmt.Sprintf("The value '%s' is not a valid Base64 value", abbreviate(v))
		}
	case "string", "markdown":
		if strings.TrimSpace(v) == "" && v != "" {
			return SeverityWarning, "Primitive types should not only be whitespace"
		}
		if t == "string" && strings.TrimSpace(v) != v {
			return SeverityWarning, fmt.Sprintf("value should not start or finish with whitespace '%s'", v) // Type_Specific_Checks_DT_String_WS
		}
		if len(v) > 1048576 {
			return SeverityError, "value is longer than permitted maximum length of 1 MB (1048576 bytes)"
		}
		if !utf8.ValidString(v) {
			return SeverityError, "The string is not valid UTF-8"
		}
	}
	return "", ""
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// validCalendar rejects dates the regex lets through but the calendar does not (2021-02-30).
func validCalendar(v string) bool {
	if len(v) < 10 {
		return true
	}
	_, err := time.Parse("2006-01-02", v[:10])
	return err == nil
}

// fhirTime is a date/dateTime/time normalised for comparison at its precision.
type fhirTime struct {
	norm string // comparable text (UTC when there is a time zone)
	prec int    // number of significant characters of norm
}

func parseFHIRTime(s string) (fhirTime, bool) {
	if reTime.MatchString(s) {
		return fhirTime{norm: s, prec: len(s)}, true
	}
	if !reDateTime.MatchString(s) {
		return fhirTime{}, false
	}
	if !strings.Contains(s, "T") {
		return fhirTime{norm: s, prec: len(s)}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fhirTime{}, false
	}
	n := t.UTC().Format("2006-01-02T15:04:05.000")
	return fhirTime{norm: n, prec: len(n)}, true
}

func (t fhirTime) truncate(p int) string {
	if p < len(t.norm) {
		return t.norm[:p]
	}
	return t.norm
}
