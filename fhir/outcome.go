package fhir

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Issue severities and the IssueType codes Junction uses (http://hl7.org/fhir/issue-type).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"

	CodeInvalid       = "invalid"
	CodeStructure     = "structure"
	CodeRequired      = "required"
	CodeValue         = "value"
	CodeProcessing    = "processing"
	CodeNotSupported  = "not-supported"
	CodeDuplicate     = "duplicate"
	CodeNotFound      = "not-found"
	CodeTooLong       = "too-long"
	CodeSecurity      = "security"
	CodeLogin         = "login"
	CodeForbidden     = "forbidden"
	CodeTransient     = "transient"
	CodeException     = "exception"
	CodeInformational = "informational"
	CodeBusinessRule  = "business-rule"
	CodeCodeInvalid   = "code-invalid"
	CodeInvariant     = "invariant"
)

// OperationOutcome is the FHIR R4 resource of that name.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id,omitempty"`
	Meta         *Meta   `json:"meta,omitempty"`
	Issue        []Issue `json:"issue"`
}

// Meta carries lastUpdated, as HAPI and the Healthcare Exchange put it on outcomes.
type Meta struct {
	LastUpdated string `json:"lastUpdated,omitempty"`
}

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Location    []string `json:"location,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// NewOutcome makes an outcome with a fresh id and lastUpdated, holding the given issues.
func NewOutcome(issues ...Issue) *OperationOutcome {
	return &OperationOutcome{
		ResourceType: "OperationOutcome",
		ID:           uuid.NewString(),
		Meta:         &Meta{LastUpdated: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")},
		Issue:        issues,
	}
}

// JSON renders the outcome compactly.
func (o *OperationOutcome) JSON() []byte {
	b, err := json.Marshal(o)
	if err != nil { // cannot happen: only strings inside
		panic(err)
	}
	return b
}

// HasError reports whether any issue is an error or fatal.
func (o *OperationOutcome) HasError() bool {
	for _, i := range o.Issue {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			return true
		}
	}
	return false
}
