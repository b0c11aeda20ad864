package fhirstore

import (
	"fmt"
	"net/http"

	"junction/fhir"
)

// Error is a request the store refuses, with the HTTP status and OperationOutcome issue
// code a FHIR server answers it with. A Status below 500 means the request itself is at
// fault: sending it again cannot succeed.
type Error struct {
	Status int
	Code   string // http://hl7.org/fhir/issue-type, e.g. fhir.CodeInvalid
	Msg    string
}

// codeDeleted is the issue type of a read of a deleted resource (fhir has no constant).
const codeDeleted = "deleted"

func (e *Error) Error() string { return e.Msg }

// Outcome renders the error as an OperationOutcome.
func (e *Error) Outcome() []byte {
	return fhir.NewOutcome(fhir.Issue{Severity: fhir.SeverityError, Code: e.Code, Diagnostics: e.Msg}).JSON()
}

func invalid(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: fhir.CodeInvalid, Msg: fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: fhir.CodeNotSupported, Msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: fhir.CodeNotFound, Msg: fmt.Sprintf(format, args...)}
}

func gone(format string, args ...any) *Error {
	return &Error{Status: http.StatusGone, Code: codeDeleted, Msg: fmt.Sprintf(format, args...)}
}
