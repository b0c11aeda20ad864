package transforms

import (
	"slices"

	"github.com/expr-lang/expr/builtin"
)

// HelperDoc documents one function scripts may call; `junction docs` writes them to
// docs/expressions.md, and a test fails when a function of Env or of the library has none.
type HelperDoc struct {
	Name        string
	Signature   string
	Description string
	Example     string
}

// VariableDoc documents one value scripts may read.
type VariableDoc struct {
	Name        string
	Type        string
	Description string
	Example     string
}

// Helpers are the functions every filter, transform and response step may call (besides
// expr's built-ins and the configuration's own functions).
var Helpers = []HelperDoc{
	{Name: "get", Signature: "get(path) → text",
		Description: "A value of the message. HL7v2: a path SEG[n]-F[n].C.S such as PID-5.1 or MSH-9.2 (PID-3[2].1 for a field's second repetition, OBX[2]-5 for the second OBX, PID-5.1.2 for a subcomponent); a leaf value is unescaped, a missing one reads as \"\". FHIR: a dotted path into the resource (name[0].family, optionally Patient.name[0].family). CSV has no paths: read rows instead.",
		Example:     `get("PID-5.1") == "SMITH"`},
	{Name: "set", Signature: "set(path, value) → true",
		Description: "Sets a value of the message (HL7v2 or FHIR paths, as get), replacing the addressed element whole. In HL7v2 the value is escaped (| becomes \\F\\, ^ becomes \\S\\ …) and whatever is missing (fields, components, a segment) is created. Gives true, so steps can chain with and.",
		Example:     `set("PID-5.1", upper(get("PID-5.1")))`},
	{Name: "setRaw", Signature: "setRaw(path, value) → true",
		Description: "set without escaping: the value's separators (^, &, ~) make components, subcomponents and repetitions. HL7v2 only.",
		Example:     `setRaw("PID-5", "SMITH^JOHN")`},
	{Name: "setBody", Signature: "setBody(value) → true",
		Description: "Replaces the whole content sent on: text as it is, anything else (a map, a list) encoded as JSON.",
		Example:     `setBody(toFHIR())`},
	{Name: "segments", Signature: "segments() → list of text",
		Description: "The HL7v2 message's segment names, in order (empty for other data types).",
		Example:     `"NK1" in segments()`},
	{Name: "segmentCount", Signature: "segmentCount(name) → number",
		Description: "How many segments of that name the HL7v2 message has (0 for other data types).",
		Example:     `segmentCount("OBX") > 0`},
	{Name: "uuid", Signature: "uuid() → text",
		Description: "A new random UUID (version 4).",
		Example:     `set("MSH-10", uuid())`},
	{Name: "hl7time", Signature: "hl7time(time) → text",
		Description: "A time as HL7v2 writes it, YYYYMMDDHHMMSS (use with expr's now() or date()).",
		Example:     `set("MSH-7", hl7time(now()))`},
	{Name: "toFHIR", Signature: "toFHIR() → text",
		Description: "The HL7v2 message, as transformed so far, converted to a FHIR R4 transaction Bundle (JSON text) by the HL7 v2-to-FHIR mapping, with the channel's tofhir settings. A field that cannot be converted fails the step.",
		Example:     `setBody(toFHIR())`},
	{Name: "error", Signature: "error(text)",
		Description: "Fails the step with text: the message (or, in a destination's steps, the delivery) is marked ERROR with it.",
		Example:     `get("PID-3.1") != "" or error("no MRN")`},
	{Name: "response", Signature: "response() → text",
		Description: "What the destination answered: the body of an HTTP response (2xx: response steps run after a successful send), the ACK for MLLP. Only in a destination's response steps.",
		Example:     `response() contains "MSA|AA" or error("not accepted")`},
	{Name: "lookup", Signature: "lookup(table, key[, default]) → text",
		Description: "The value for key in a table of routes.yaml's lookups (inline or read from a CSV file), else default, else \"\". A table name written literally is checked when the configuration loads.",
		Example:     `set("PV1-3.1", lookup("wards", get("PV1-3.1"), "UNKNOWN"))`},
}

// Variables are the values every step may read.
var Variables = []VariableDoc{
	{Name: "body", Type: "text", Description: "the message's content as received", Example: `body contains "ZPI|"`},
	{Name: "meta", Type: "map of text", Description: "the message's source metadata: request headers (lower-cased, credentials left out), remote-addr, token-subject, client-subject; MLLP: charset; file source: filename, file-sha256, file-index", Example: `meta["source-domain"] == "emergency-care"`},
	{Name: "resource", Type: "map", Description: "a FHIR message's resource, parsed (nil for other data types)", Example: `resource.resourceType == "Bundle"`},
	{Name: "rows", Type: "list of maps", Description: "a CSV message's rows, each a map of column name to text (nil for other data types)", Example: `all(rows, {.status != ""})`},
	{Name: "dataType", Type: "text", Description: "the message's data type: Hl7v2, FHIR or CSV", Example: `dataType == "Hl7v2"`},
	{Name: "channel", Type: "text", Description: "the name of the channel processing the message", Example: `channel == "ed-adt"`},
}

// ExprBuiltins are the names of expr's own functions a script may call (upper, trim, len,
// now, …), less those the helpers replace (get).
func ExprBuiltins() []string {
	var out []string
	for _, b := range builtin.Builtins {
		if !slices.ContainsFunc(Helpers, func(h HelperDoc) bool { return h.Name == b.Name }) {
			out = append(out, b.Name)
		}
	}
	return out
}
