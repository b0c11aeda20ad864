package engine

import "junction/transforms"

// Warning is a value that toFHIR() could not convert while the channel transformed a
// message: the FHIR the destinations get lacks it, and the message went on (a warning
// does not make it ERROR). Stored with the message, shown in the API and the UI.
type Warning struct {
	Path     string `json:"path"`               // segment-field: "PID-7", "OBX[3]-5"
	Value    string `json:"value,omitempty"`    // the value as sent; "" when missing
	Problem  string `json:"problem"`            // "is not a valid date"
	Expected string `json:"expected,omitempty"` // "YYYY[MM[DD]]"
	Text     string `json:"text"`               // the whole sentence, as the converter says it
}

// warningsOf turns a transformed message's conversion warnings into the store's form
// (nil when there are none, the common case).
func warningsOf(msg *transforms.Message) []Warning {
	ws := msg.Warnings()
	if len(ws) == 0 {
		return nil
	}
	out := make([]Warning, len(ws))
	for i, w := range ws {
		out[i] = Warning{Path: w.Path, Value: w.Value, Problem: w.Problem, Expected: w.Expected, Text: w.Error()}
	}
	return out
}
