package transforms

import (
	"slices"

	"junction/hl7tofhir"
)

// Warnings are the values toFHIR() could not convert while the scripts ran, each
// naming segment and field, the value and what was expected (e.g. `PID-7: "19801301"
// is not a valid date`): the conversion went on without them. Nil when there are none.
// A value that fails in two conversions of the message is listed once.
func (m *Message) Warnings() []*hl7tofhir.FieldError { return m.warnings }

// addWarnings keeps a conversion's warnings, skipping those an earlier toFHIR() of
// the same message gave already.
func (m *Message) addWarnings(ws []*hl7tofhir.FieldError) {
	if len(m.warnings) == 0 {
		m.warnings = slices.Clip(ws) // a later append copies rather than write into ws
		return
	}
next:
	for _, w := range ws {
		for _, have := range m.warnings {
			if *have == *w {
				continue next
			}
		}
		m.warnings = append(m.warnings, w)
	}
}
