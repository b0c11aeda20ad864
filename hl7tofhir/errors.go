package hl7tofhir

import "fmt"

// FieldError is a value that cannot be converted. Error() names the element
// (in the hl7 package's path syntax, with [n] on segments that repeat), the
// value and what was expected, e.g.
//
//	PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])
//	OBX[3]-5: "abc" is not a valid NM number (expected a decimal such as 72.5)
//	PID: segment is missing (expected one PID segment: ADT^A01 carries a patient)
type FieldError struct {
	Path     string // "PID-7", "OBX[3]-5", "PID-3[2].7", or a segment name
	Value    string // the offending value; "" when the element is missing or empty
	Problem  string // "is not a valid date"
	Expected string
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
