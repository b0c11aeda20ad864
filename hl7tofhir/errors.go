package hl7tofhir

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// FieldError is a value that cannot be converted. Error() names the element
// (in the hl7 package's path syntax, with [n] on segments that repeat), the
// value and what was expected, e.g.
//
//	PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])
//	OBX[3]-5: "abc" is not a valid NM number (expected a decimal such as 72.5)
//	PID: segment is missing (expected one PID segment: ADT^A01 carries a patient)
//
// Most are warnings (Result.Warnings): the element is omitted and the rest of
// the message converts. A few refuse the message (an error from Convert):
// those that leave its patient or its event unidentified, and the bounds
// that keep a hostile message from making the Bundle quadratic in its size.
type FieldError struct {
	Path     string // "PID-7", "OBX[3]-5", "PID-3[2].7", or a segment name
	Value    string // the offending value; "" when the element is missing or empty
	Problem  string // "is not a valid date"
	Expected string

	refuses bool // the message cannot be converted without it (see refusal)
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s (expected %s)", e.Path, e.Problem, e.Expected)
	}
	return fmt.Sprintf("%s: %q %s (expected %s)", e.Path, e.Value, e.Problem, e.Expected)
}

func fieldErr(path, value, problem, expected string) error {
	return &FieldError{Path: path, Value: value, Problem: problem, Expected: expected}
}

// refusal is a FieldError that refuses the whole message: warn does not take
// it. Only a message whose patient or event cannot be identified, or that
// exceeds a bound on the work it causes, is refused.
func refusal(path, value, problem, expected string) error {
	return &FieldError{Path: path, Value: value, Problem: problem, Expected: expected, refuses: true}
}

// maxWarnings bounds Result.Warnings: after it, warnings are only counted,
// and one last warning says how many were left out. maxWarningValue bounds
// the value each keeps. A hostile message of a million bad fields gives a
// few hundred kilobytes of warnings, not a copy of itself per field.
const (
	maxWarnings     = 1000
	maxWarningValue = 256
)

// warn keeps err as a warning of the conversion when it is a *FieldError (a value
// that did not convert; the rest of the message goes on), reporting whether it did.
// Any other error, and a refusal, stops the conversion.
func (c *conv) warn(err error) bool {
	fe, ok := err.(*FieldError)
	if !ok || fe.refuses {
		return false
	}
	if len(c.warnings) >= maxWarnings {
		c.moreWarnings++
		return true
	}
	if len(fe.Value) > maxWarningValue {
		cp := *fe
		cp.Value = clipValue(fe.Value)
		fe = &cp
	}
	c.warnings = append(c.warnings, fe)
	return true
}

// warnf records a warning (see warn).
func (c *conv) warnf(path, value, problem, expected string) {
	c.warn(fieldErr(path, value, problem, expected))
}

// allWarnings is Result.Warnings: the warnings kept, and one more saying how
// many were left out when there were more than maxWarnings.
func (c *conv) allWarnings() []*FieldError {
	if c.moreWarnings == 0 {
		return c.warnings
	}
	return append(c.warnings, &FieldError{Path: "message",
		Problem:  "has " + strconv.Itoa(c.moreWarnings) + " more warnings, not listed",
		Expected: "at most " + strconv.Itoa(maxWarnings) + " warnings are kept per message"})
}

// clipValue cuts a value to maxWarningValue bytes (on a UTF-8 boundary) for a
// warning or an error, marking the cut with "...".
func clipValue(v string) string {
	if len(v) <= maxWarningValue {
		return v
	}
	c := v[:maxWarningValue]
	for len(c) > 0 && !utf8.RuneStart(v[len(c)]) {
		c = c[:len(c)-1]
	}
	return c + "..."
}
